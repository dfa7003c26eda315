"""vidprov.detector: trained AI-video classifiers, evidence fusion, mixed-footage timelines.

``scan_file`` is the entry point: C2PA + watermark evidence and the classifier's timeline,
fused into one :class:`Verdict`; ``scan_many`` runs it over files and folders, a
:class:`ScanFailure` standing in for each file it cannot read. Models: :func:`create` /
:func:`list_models` / :func:`load` / :func:`load_default` (the model shipped inside the
package).
"""

from vidprov.detector.models import create, list_models, load, load_default, register
from vidprov.detector.plot import plot_timeline
from vidprov.detector.scan import iter_inputs, scan_file, scan_many
from vidprov.detector.verdict import (
    BatchSummary,
    ClassifierResult,
    ScanFailure,
    Segment,
    Verdict,
)

__all__ = [
    "BatchSummary",
    "ClassifierResult",
    "ScanFailure",
    "Segment",
    "Verdict",
    "create",
    "iter_inputs",
    "list_models",
    "load",
    "load_default",
    "plot_timeline",
    "register",
    "scan_file",
    "scan_many",
]
