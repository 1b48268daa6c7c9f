# The C reader of tanhui.meters.envelope.decode_columns (_columns.c).

def read(
    payload: bytes, /
) -> (
    tuple[int, str, int, str, str, list[str], bytes, list[str], bytes, list[str], bytes, bytes, bytes, bytes]
    | None
): ...
