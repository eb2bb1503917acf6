r"""BPLS from data that does not fit in memory, one chunk at a time.

Every least-squares solve of BPLS needs only the Gram statistics of a layer's inputs and
targets (:class:`lsqnet.GramStats`), and those are sums over samples. :func:`fit_bpls_chunked`
runs the algorithm of :func:`lsqnet.bpls.fit_bpls` over a :class:`ChunkSource`, which
computes a function on every chunk where the chunk lives and returns the sum of the results:
:class:`ArrayChunks` reads row blocks of an array (a NumPy memmap among them),
:class:`IterableChunks` reads a collection of ``(X, y)`` chunks that can be iterated again,
and :class:`lsqnet._dask.DaskChunks` runs on the workers of a Dask cluster and tree-reduces.

Passes over the data: a backward sweep of a network with ``L`` layers makes ``L`` passes (for
the layer being solved, each chunk goes forward through the network as it was at the start
of the sweep and its targets come back down through the layers solved so far; the chunk's
statistics of that layer are added up), then one pass for the training loss and accuracy of
the new network (the first sweep's first pass also measures the start network's training
objective; every shorter step that the safeguard of ``BPLSOptions`` tries after a sweep
that did not lower it is one more pass). A fit makes ``max_iter * (L + MAX_TRIALS)``
passes at most (``max_iter * (L + 1)`` without the safeguard), ``MAX_TRIALS + 1`` more with
``refit_output``, two before the first sweep with ``init="samples"`` (the sample count
and mean, then the chosen samples), and two per step of ``output_iter`` (the working
targets' cross terms, then the trial steps' cross-entropies). Memory holds one chunk and
its activations, and the statistics (``p x p`` for a layer with ``p`` inputs): it does not
grow with the number of samples.

The sources live in :mod:`lsqnet.training.sources` and the algorithm in
:mod:`lsqnet.training.bpls`, the same code that fits data in memory (a resident source).
The result equals the in-memory fit up to the rounding of sums taken in another order.
Chunked fits solve from summed statistics, so they need ``solver="auto"`` or
``"cholesky"`` (with the eigendecomposition as fallback) and ``layer_method="inverse"``.
"""

from __future__ import annotations

from collections.abc import Callable

from . import _flops
from .bpls import BPLSOptions, BPLSResult
from .network import Network
from .training.bpls import check_chunked_options, fit
from .training.sources import ArrayChunks, ChunkSource, IterableChunks, sampled_inputs

__all__ = [
    "ArrayChunks",
    "ChunkSource",
    "IterableChunks",
    "check_chunked_options",
    "fit_bpls_chunked",
    "sampled_inputs",
]


def fit_bpls_chunked(
    source: ChunkSource,
    network: Network,
    opts: BPLSOptions,
    *,
    classification: bool = False,
    monitor: Callable[[dict[str, float], Network], bool | None] | None = None,
    ledger: _flops.FlopLedger | None = None,
    init_passes: int = 0,
) -> BPLSResult:
    """Train ``network`` on the chunks of ``source``, as :func:`lsqnet.bpls.fit_bpls` does in
    memory (same options, stopping rules, best iterate, history and ``monitor``).

    ``classification`` says that the chunks carry class indices (accuracy is recorded and
    ``iteration_rule`` applies). History entries also record ``passes``, the passes over the
    data made so far, counting the ``init_passes`` made to initialise ``network``.
    """
    check_chunked_options(opts)
    return fit(
        source, network, opts, classification=classification, monitor=monitor, ledger=ledger,
        init_passes=init_passes,
    )
