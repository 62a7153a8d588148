"""`uecity serve-sim`: an UnrealCV 5.2 server emulated over the embedded renderer.

`engine` is the pretend level and the command handlers (as the plugin's `Commands/*.cpp`
answer them), `server` the transport and game thread (`Server/UnixTcpServer.cpp`,
`Server/UnrealcvServer.cpp`), `traffic` the engine's own traffic for observe mode. What each
behaviour was checked against is listed in docs/unreal.md.
"""
