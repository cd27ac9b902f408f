"""``smtpprobe exporter``: modules from a TOML file (`config`) and the HTTP server
(`server`). Imported only by that command: it needs aiohttp and prometheus-client."""
