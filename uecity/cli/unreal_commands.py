"""`uecity serve-sim`: an UnrealCV-protocol server rendered by the embedded renderer."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from uecity.cli.options import CatalogFile

console = Console(highlight=False, stderr=True, soft_wrap=True)


def serve_sim(
    spec_file: Annotated[
        Path | None,
        typer.Argument(
            help="Scene spec whose junction the server draws (default: the built-in scene).",
            show_default=False,
        ),
    ] = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind; 0.0.0.0 exposes it to the network.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, help="TCP port.")] = 9000,
    tick_ms: Annotated[
        float, typer.Option("--tick-ms", min=0, help="Engine tick; 0 runs requests at once.")
    ] = 16.0,
    max_requests_per_tick: Annotated[
        int, typer.Option("--max-requests-per-tick", min=1, help="As UnrealCV's game thread.")
    ] = 32,
    drop_every: Annotated[
        int | None,
        typer.Option(
            "--drop-every", min=1, help="Fault injection: drop the client every N requests."
        ),
    ] = None,
    restart_on_drop: Annotated[
        bool,
        typer.Option("--restart-on-drop", help="With --drop-every: also forget every actor."),
    ] = False,
    request_log: Annotated[
        Path | None,
        typer.Option("--log", help="Append every request (tick, id, command) as JSON lines."),
    ] = None,
    catalog: CatalogFile = None,
    traffic: Annotated[
        bool,
        typer.Option(
            "--traffic",
            help="Run the engine's own traffic (SUMO inside the server), for observe mode.",
        ),
    ] = False,
) -> None:
    """Serve the UnrealCV protocol with the embedded renderer, so the Unreal path runs without UE.

    `uecity generate SPEC --backend unrealcv --endpoint 127.0.0.1:9000` then drives it exactly
    as it drives Unreal Engine. Stop it with Ctrl-C.
    """
    from uecity.scene.spec import load_spec
    from uecity.traffic.network import build_network
    from uecity.unreal.catalog import DEFAULT_CATALOG, load_catalog
    from uecity.unreal.sim_engine import SimEngine
    from uecity.unreal.sim_server import FaultPlan, SimServer

    spec = load_spec(spec_file)
    assets = load_catalog(catalog or DEFAULT_CATALOG)
    with tempfile.TemporaryDirectory(prefix="uecity-serve-sim-") as scratch:
        network = build_network(spec.intersection, Path(scratch))
        own_traffic = None
        if traffic:
            from uecity.unreal.engine_traffic import EngineTraffic

            own_traffic = EngineTraffic(spec, network, tick_ms / 1000.0, spec.run.seed)
        server = SimServer(
            lambda: SimEngine(network, assets, traffic=own_traffic),
            host,
            port,
            tick_s=tick_ms / 1000.0,
            max_requests_per_tick=max_requests_per_tick,
            faults=FaultPlan(drop_every=drop_every, restart_engine_on_drop=restart_on_drop),
            log_path=request_log,
            keep_log=False,
        )
        try:
            server.start()
        except OSError as error:
            from uecity.errors import UsageError

            raise UsageError(f"cannot listen on {host}:{port}: {error.strerror}") from None
        console.print(
            f"serve-sim: UnrealCV protocol on {host}:{server.port} ({spec.intersection.template}, "
            f"tick {tick_ms:g} ms, ≤{max_requests_per_tick} requests/tick). Ctrl-C stops it."
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            console.print("serve-sim: stopped")
        finally:
            server.stop()
            if own_traffic is not None:
                own_traffic.close()
