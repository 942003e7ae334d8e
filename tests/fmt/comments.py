#!/usr/bin/env python3
"""comments.py ORIGINAL FORMATTED: exit 0 when FORMATTED holds ORIGINAL's comments, in order,
each with its text unchanged (trailing blanks aside). Comments are found as the scanner finds
them: '#' or '//' outside strings (strings may hold ${...} with strings inside)."""
import sys


def comments(text):
    out, stack, i = [], [], 0
    while i < len(text):
        c = text[i]
        top = stack[-1] if stack else None
        if top == "str":
            if c == "\\":
                i += 2
                continue
            if c == '"' or c == "\n":
                stack.pop()
            elif text.startswith("${", i):
                stack.append(0)
                i += 2
                continue
            i += 1
            continue
        if c == "#" or text.startswith("//", i):
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            out.append(text[i:end].rstrip())
            i = end
            continue
        if c == '"':
            stack.append("str")
        elif isinstance(top, int) and c == "{":
            stack[-1] += 1
        elif isinstance(top, int) and c == "}":
            if top == 0:
                stack.pop()
            else:
                stack[-1] -= 1
        i += 1
    return out


a, b = (comments(open(p, encoding="utf-8").read()) for p in sys.argv[1:3])
sys.exit(0 if a == b and a is not None else 1)
