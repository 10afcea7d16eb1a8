"""The answer server: one submission's answer cell run on the grader's inputs, inside a sandbox that cannot
import the course, and its outputs sent back. Nothing here decides a grade: the grader compares the outputs
with the reference in its own process (``judge.py``). Standard library and torch only (the ``gancourse``
package is not in the sandbox that runs this).

    python -I answers.py JOB      # JOB: torch.save'd dict(cell, answer, probe, probe_name, cases)

Results go to the stdout the process started with (``torch.save`` of plain values: tensors, numbers, lists,
strings), which the grader reads with ``weights_only=True`` and a size cap. The answer's own prints are
dropped. An answer that imports ``gancourse`` (or anything under it) is refused: the course's reference
implementations are not the answer's to call.
"""
import importlib.abc
import io
import os
import sys


class _NoCourse(importlib.abc.MetaPathFinder):
    """Refuses the course's own package, wherever it is installed."""

    def find_spec(self, name, path=None, target=None):
        if name == "gancourse" or name.startswith("gancourse."):
            raise ImportError("an answer may not import the course's own package (gancourse): write it with torch")
        return None


def _plain(x, depth=0):
    """The output as values the grader can read safely: tensors (with their requires_grad), numbers, strings,
    lists; anything else as its type's name."""
    import torch
    if depth > 5:
        return {"unsupported": "nested too deep"}
    if isinstance(x, torch.Tensor):
        return {"tensor": x.detach().to("cpu").clone(), "requires_grad": bool(x.requires_grad)}
    if isinstance(x, (bool, int, float, str)) or x is None:
        return x
    if isinstance(x, (list, tuple)):
        return [_plain(v, depth + 1) for v in x][:1000]
    try:
        import numpy as np
        if isinstance(x, np.ndarray):
            return {"tensor": torch.from_numpy(np.array(x, dtype=np.float64)), "requires_grad": False}
        if isinstance(x, np.generic):
            return x.item()
    except ImportError:
        pass
    return {"unsupported": type(x).__name__}


def _error(exc: BaseException) -> str:
    if isinstance(exc, NotImplementedError):
        return "not answered"
    return f"{type(exc).__name__}: {exc}"[:300]


def main(path: str) -> None:
    import torch
    job = torch.load(path, weights_only=True)
    out = os.dup(1)                                   # the results' channel; the answer's prints go nowhere
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    sys.stdout = open(os.devnull, "w")
    sys.meta_path.insert(0, _NoCourse())
    for name in [m for m in sys.modules if m.split(".")[0] == "gancourse"]:
        del sys.modules[name]
    probe_scope: dict = {"torch": torch}
    exec(compile(job["probe"], "<probe>", "exec"), probe_scope)
    probe = probe_scope[job["probe_name"]]
    import math
    import numpy as np
    scope: dict = {"__name__": "__answer__", "torch": torch, "np": np, "math": math}   # what every notebook imported
    results, fn = [], None
    try:
        exec(compile(job["cell"], "<answer cell>", "exec"), scope)
        fn = scope.get(job["answer"])
        if not callable(fn):
            results = [{"error": f"the cell defines no function {job['answer']}"}] * len(job["cases"])
    except BaseException as exc:                      # noqa: BLE001 (whatever the cell raises is its own)
        results = [{"error": f"the answer's cell failed: {_error(exc)}"}] * len(job["cases"])
    if not results:
        for args, kwargs in job["cases"]:
            try:
                results.append({"out": _plain(probe(fn, *args, **kwargs))})
            except BaseException as exc:              # noqa: BLE001
                results.append({"error": _error(exc)})
    course = sorted(m for m in sys.modules if m.split(".")[0] == "gancourse")
    buf = io.BytesIO()
    torch.save({"results": results, "course_imported": course}, buf)
    data = memoryview(buf.getvalue())
    while data:
        data = data[os.write(out, data):]


if __name__ == "__main__":
    main(sys.argv[1])
