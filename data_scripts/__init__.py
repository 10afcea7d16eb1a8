"""Download, verify (checksums) and prepare the course's data sets. See fetch.py."""
