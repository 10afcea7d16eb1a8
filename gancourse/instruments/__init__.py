"""The measuring instruments the claims are measured with. ``extractors`` (Inception by download or file, TorchScript, the course's
own classifiers), ``metrics`` (FID / KID / IS / MS-SSIM through torchmetrics, mode coverage on 2D
mixtures), ``swd`` (PGGAN's sliced Wasserstein distance on Laplacian pyramids), ``probe`` (a linear
probe on a network's features). They measure; they never train a GAN."""
