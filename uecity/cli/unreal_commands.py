"""`uecity serve-sim`: an UnrealCV-protocol server rendered by the embedded renderer."""

from __future__ import annotations

import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from uecity.cli.options import CatalogFile

console = Console(highlight=False, stderr=True, soft_wrap=True)


class Platform(StrEnum):
    linux = "linux"
    windows = "windows"


class Build(StrEnum):
    editor = "editor"
    packaged = "packaged"
    shipping = "shipping"


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
    platform: Annotated[
        Platform,
        typer.Option(
            "--platform",
            help="linux: one TCP session per engine process, then only the Unix socket "
            "/tmp/unrealcv_PORT.socket; windows: TCP clients one after another, and a "
            "dropped client's queued requests answered to the next.",
        ),
    ] = Platform.linux,
    build: Annotated[
        Build,
        typer.Option(
            "--build",
            help="editor (small generated name numbers), packaged (cooked: large ones), "
            "shipping (cooked, no console: `vbp` fails).",
        ),
    ] = Build.packaged,
    legacy_vbatch: Annotated[
        bool,
        typer.Option(
            "--legacy-vbatch",
            help="A plugin build before 2026-03-04: `vbatch` ignored, no 32-requests-per-tick cap.",
        ),
    ] = False,
    unloaded: Annotated[
        list[str] | None,
        typer.Option(
            "--unloaded-class",
            help="A catalog class the level does not load (spawning it fails as in Unreal); "
            "repeatable.",
        ),
    ] = None,
    gc_interval_s: Annotated[
        float,
        typer.Option(
            "--gc-interval", min=0, help="Seconds a destroyed actor's name stays held (Unreal: 60)."
        ),
    ] = 60.0,
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

    It answers as the real UnrealCV 5.2 plugin does (see docs/unreal.md): `uecity generate SPEC
    --backend unrealcv --endpoint 127.0.0.1:9000` then drives it as it drives Unreal Engine.
    Stop it with Ctrl-C.
    """
    from uecity.scene.spec import load_spec
    from uecity.traffic.network import build_network
    from uecity.unreal.catalog import DEFAULT_CATALOG, load_catalog
    from uecity.unreal.emulator.engine import EngineBehaviour, SimEngine
    from uecity.unreal.emulator.server import FaultPlan, SimServer

    spec = load_spec(spec_file)
    assets = load_catalog(catalog or DEFAULT_CATALOG)
    behaviour = EngineBehaviour(platform.value, build.value, legacy_vbatch, gc_interval_s)  # type: ignore[arg-type]
    loaded = None
    if unloaded:
        every = {path for asset in assets.assets for path in asset.classes()}
        unknown = sorted(set(unloaded) - every)
        if unknown:
            from uecity.core.errors import UsageError

            raise UsageError(f"--unloaded-class {unknown[0]} is not a class of the catalog")
        loaded = frozenset(every - set(unloaded))
    with tempfile.TemporaryDirectory(prefix="uecity-serve-sim-") as scratch:
        network = build_network(spec.intersection, Path(scratch))
        own_traffic = None
        if traffic:
            from uecity.unreal.emulator.traffic import EngineTraffic

            own_traffic = EngineTraffic(spec, network, tick_ms / 1000.0, spec.run.seed)
        server = SimServer(
            lambda: SimEngine(
                network, assets, behaviour, loaded_classes=loaded, traffic=own_traffic
            ),
            host,
            port,
            tick_s=tick_ms / 1000.0,
            faults=FaultPlan(drop_every=drop_every, restart_engine_on_drop=restart_on_drop),
            log_path=request_log,
            keep_log=False,
        )
        try:
            server.start()
        except OSError as error:
            from uecity.core.errors import UsageError

            raise UsageError(f"cannot listen on {host}:{port}: {error.strerror}") from None
        cap = "no request cap (legacy vbatch)" if legacy_vbatch else "≤32 requests/tick"
        after = f", then {server.socket_path}" if platform == Platform.linux else ""
        console.print(
            f"serve-sim: UnrealCV protocol on {host}:{server.port}{after} ({platform.value} "
            f"{build.value} build, {spec.intersection.template}, tick {tick_ms:g} ms, {cap}). "
            "Ctrl-C stops it."
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            console.print("serve-sim: stopped")
        finally:
            server.stop()
            if own_traffic is not None:
                own_traffic.close()
