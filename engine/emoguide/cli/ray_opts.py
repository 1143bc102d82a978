"""``emoguide analyze --ray``: the options, and the Ray batch built from them.

Importing this module does not import Ray; only :func:`ray_batch_from_args`
does, so the CLI works without the optional ``ray`` extra until --ray is used.
"""

from __future__ import annotations

import argparse
import functools


def add_ray_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("distributed batch (Ray)")
    g.add_argument("--ray", action="store_true",
                   help="analyse the clips of all inputs on Ray workers that keep the models loaded "
                        "(needs pip install 'emoguide[ray]')")
    g.add_argument("--ray-address",
                   help="Ray cluster to join ('auto': the one `ray start --head` runs on this machine); "
                        "default $RAY_ADDRESS, else a Ray instance on this machine only")
    g.add_argument("--ray-workers", type=int,
                   help="number of workers, each loading the models once (default: cluster CPUs / cpus per worker)")
    g.add_argument("--ray-cpus-per-worker", type=float, default=1.0, help="CPUs reserved per worker (default 1)")
    g.add_argument("--ray-gpus-per-worker", type=float, default=0.0,
                   help="GPUs per worker, fractions allowed (default 0: CPU workers)")


def ray_batch_from_args(args):
    """Connect to (or start) Ray and describe the workers; raises RayUnavailable without Ray."""
    from emoguide.pipeline.distributed import RayBatch, connect
    from emoguide.pipeline.engine import Engine

    connect(args.ray_address, log_to_driver=not args.quiet)
    modalities = tuple(m.strip() for m in args.modalities.split(",") if m.strip())
    factory = functools.partial(Engine.load, device=args.device, modalities=modalities, fusion=args.fusion)
    return RayBatch(factory, args.ray_workers, cpus_per_worker=args.ray_cpus_per_worker,
                    gpus_per_worker=args.ray_gpus_per_worker)
