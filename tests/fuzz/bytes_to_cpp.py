#!/usr/bin/env python3
"""Prints a fuzz input file as a C++ string literal, for a regression case in tests/fuzz/regressions.cpp."""
import sys
data = open(sys.argv[1], "rb").read()
out, line = [], ""
for b in data:
    line += "\\%03o" % b
    if len(line) >= 96:
        out.append('"%s"' % line)
        line = ""
if line or not out:
    out.append('"%s"' % line)
print("std::string(\n    " + "\n    ".join(out) + ",\n    %d)" % len(data))
