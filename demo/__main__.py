from streamcolor.argtypes import Parser

from streamcolor.demo import add_arguments, run
from streamcolor.errors import StreamcolorError

parser = Parser(prog="python -m streamcolor.demo", description="streamcolor web demo")
add_arguments(parser)
try:
    run(parser.parse_args())
except StreamcolorError as exc:  # one line, as the streamcolor command reports it
    parser.exit(1, f"{parser.prog}: error: {exc}\n")
