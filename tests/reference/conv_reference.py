#!/usr/bin/python3
"""Reference values for tests/ops/test_ops_conv.cpp and tests/ops/test_ops_pool.cpp, from PyTorch (1.13.1).

Inputs follow closed formulas the C++ tests rebuild (flat index i of a row-major tensor):
  input x[i] = sin(0.7 i + 0.3), weight w[i] = 0.5 cos(0.37 i + 0.1), bias b[i] = 0.1 i - 0.2.
The loss is sum(out * h) with h[i] = sin(1.3 i); each result is summarised by the first
values of out and by checksums sum(t * c), c[i] = cos(0.91 i), of out and of every gradient.
Run: /usr/bin/python3 tests/reference/conv_reference.py  (prints the C++ table rows pasted into the tests)
"""
import math
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def pattern(shape, f):
    n = math.prod(shape)
    return torch.tensor([f(i) for i in range(n)]).reshape(shape)


def x_of(shape):
    return pattern(shape, lambda i: math.sin(0.7 * i + 0.3)).requires_grad_()


def w_of(shape):
    return pattern(shape, lambda i: 0.5 * math.cos(0.37 * i + 0.1)).requires_grad_()


def b_of(n):
    return pattern([n], lambda i: 0.1 * i - 0.2).requires_grad_()


def checksum(t):
    return float((t.detach() * pattern(list(t.shape), lambda i: math.cos(0.91 * i))).sum())


def report(out, tensors):
    loss = (out * pattern(list(out.shape), lambda i: math.sin(1.3 * i))).sum()
    loss.backward()
    first = out.detach().flatten()[:4].tolist()
    sums = [checksum(out)] + [checksum(t.grad) for t in tensors]
    return "{%s}, {%s}, {%s}" % (
        ",".join(str(d) for d in out.shape),
        ", ".join("%.12g" % v for v in first),
        ", ".join("%.12g" % v for v in sums))


def conv2d_cases():
    # (input shape, weight shape, stride, padding, dilation, groups)
    cases = [
        ([2, 4, 5, 6], [6, 4, 3, 2], (1, 1), (0, 0), (1, 1), 1),
        ([2, 4, 5, 6], [6, 4, 3, 3], (2, 2), (1, 1), (1, 1), 1),
        ([2, 4, 7, 6], [6, 4, 3, 2], (1, 1), (2, 2), (2, 2), 1),
        ([2, 4, 5, 6], [6, 2, 3, 3], (2, 1), (1, 0), (1, 1), 2),
        ([2, 4, 5, 6], [8, 1, 3, 3], (2, 1), (1, 0), (1, 1), 4),
        ([1, 3, 8, 9], [4, 3, 2, 3], (3, 2), (0, 2), (1, 2), 1),
        ([2, 4, 5, 6], [6, 4, 3, 2], (1, 1), "same", (1, 1), 1),
        ([2, 4, 5, 6], [6, 2, 2, 3], (1, 1), "same", (2, 1), 2),
    ]
    print("// conv2d: input, weight, stride, padding (-1: same), dilation, groups -> out shape, out[:4], checksums of out, dx, dw, db")
    for xs, ws, s, p, d, g in cases:
        x, w, b = x_of(xs), w_of(ws), b_of(ws[0])
        out = F.conv2d(x, w, b, stride=s, padding=p, dilation=d, groups=g)
        pad = "{-1, -1}" if p == "same" else "{%d, %d}" % p
        print("    {{%s}, {%s}, {%d, %d}, %s, {%d, %d}, %d, %s}," % (
            ",".join(map(str, xs)), ",".join(map(str, ws)), *s, pad, *d, g, report(out, [x, w, b])))


def conv_transpose2d_cases():
    # (input shape, weight shape, stride, padding, output_padding, dilation, groups)
    cases = [
        ([2, 4, 4, 5], [4, 3, 3, 2], (1, 1), (0, 0), (0, 0), (1, 1), 1),
        ([2, 4, 4, 5], [4, 3, 3, 3], (2, 2), (1, 1), (1, 1), (1, 1), 1),
        ([2, 4, 4, 5], [4, 2, 3, 2], (2, 1), (0, 1), (0, 0), (2, 2), 2),
        ([1, 3, 3, 4], [3, 2, 3, 3], (3, 2), (1, 0), (2, 1), (1, 1), 1),
        ([2, 4, 3, 3], [4, 1, 2, 2], (1, 2), (0, 0), (1, 0), (2, 1), 4),
    ]
    print("// conv_transpose2d: input, weight, stride, padding, output_padding, dilation, groups -> out shape, out[:4], checksums")
    for xs, ws, s, p, op, d, g in cases:
        x, w, b = x_of(xs), w_of(ws), b_of(ws[1] * g)
        out = F.conv_transpose2d(x, w, b, stride=s, padding=p, output_padding=op, dilation=d, groups=g)
        print("    {{%s}, {%s}, {%d, %d}, {%d, %d}, {%d, %d}, {%d, %d}, %d, %s}," % (
            ",".join(map(str, xs)), ",".join(map(str, ws)), *s, *p, *op, *d, g, report(out, [x, w, b])))


def conv1d_cases():
    print("// conv1d and conv_transpose1d: input [2,4,9], weight [6,2,3] / [4,3,3], stride 2, padding 1, dilation 2, groups 2 (transpose: output_padding 1)")
    x, w, b = x_of([2, 4, 9]), w_of([6, 2, 3]), b_of(6)
    print("    conv1d: " + report(F.conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=2), [x, w, b]))
    x, w, b = x_of([2, 4, 9]), w_of([4, 3, 3]), b_of(6)
    print("    conv_transpose1d: " + report(
        F.conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1, dilation=2, groups=2), [x, w, b]))


def pool_cases():
    print("// max_pool2d: input [2,3,7,8], kernel, stride, padding, dilation, ceil_mode -> out shape, out[:4], checksums of out, dx; index checksum")
    cases = [((2, 2), (2, 2), (0, 0), (1, 1), False), ((3, 3), (2, 2), (1, 1), (1, 1), True),
             ((3, 3), (1, 1), (1, 1), (2, 2), False), ((2, 3), (1, 2), (1, 1), (1, 1), True),
             ((3, 2), (3, 3), (1, 0), (1, 2), True)]
    for k, s, p, d, c in cases:
        x = x_of([2, 3, 7, 8])
        out, idx = F.max_pool2d(x, k, s, p, d, ceil_mode=c, return_indices=True)
        print("    {{%d, %d}, {%d, %d}, {%d, %d}, {%d, %d}, %s, %s, %d}," % (
            *k, *s, *p, *d, str(c).lower(), report(out, [x]), int((idx * (torch.arange(idx.numel()) % 7).reshape(idx.shape)).sum())))
    print("// avg_pool2d: input [2,3,7,8], kernel, stride, padding, ceil_mode, count_include_pad -> out shape, out[:4], checksums of out, dx")
    cases = [((2, 2), (2, 2), (0, 0), False, True), ((3, 3), (2, 2), (1, 1), True, True),
             ((3, 3), (2, 2), (1, 1), True, False), ((3, 2), (2, 1), (1, 1), False, False),
             ((2, 4), (3, 3), (1, 2), True, True)]
    for k, s, p, c, cip in cases:
        x = x_of([2, 3, 7, 8])
        out = F.avg_pool2d(x, k, s, p, ceil_mode=c, count_include_pad=cip)
        print("    {{%d, %d}, {%d, %d}, {%d, %d}, %s, %s, %s}," % (*k, *s, *p, str(c).lower(), str(cip).lower(), report(out, [x])))
    print("// adaptive pools of [2,3,7,8] to (3, 5) and (4, 3): avg, then max")
    for size in [(3, 5), (4, 3)]:
        x = x_of([2, 3, 7, 8])
        print("    avg %s: %s" % (size, report(F.adaptive_avg_pool2d(x, size), [x])))
        x = x_of([2, 3, 7, 8])
        print("    max %s: %s" % (size, report(F.adaptive_max_pool2d(x, size), [x])))
    print("// 1-d pools of [2,3,11]: max k3 s2 p1 d2 ceil, avg k4 s3 p2 ceil count_include_pad=false")
    x = x_of([2, 3, 11])
    print("    max_pool1d: " + report(F.max_pool1d(x, 3, 2, 1, 2, ceil_mode=True), [x]))
    x = x_of([2, 3, 11])
    print("    avg_pool1d: " + report(F.avg_pool1d(x, 4, 3, 2, ceil_mode=True, count_include_pad=False), [x]))


if __name__ == "__main__":
    conv2d_cases()
    conv_transpose2d_cases()
    conv1d_cases()
    pool_cases()
