"""Pure readers: bytes in, dataclasses out. Nothing here opens a socket or a path it was not given."""
