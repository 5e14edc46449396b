import argparse

from streamcolor.demo import add_arguments, run

parser = argparse.ArgumentParser(prog="python -m streamcolor.demo", description="streamcolor web demo")
add_arguments(parser)
run(parser.parse_args())
