#!/usr/bin/python3
"""Reference values for tests/nn/test_nn_attention.cpp and tests/nn/test_nn_transformer.cpp, computed by
PyTorch's nn.MultiheadAttention, nn.TransformerEncoderLayer and nn.TransformerDecoderLayer in
float64.

    /usr/bin/python3 tests/reference/attention_reference.py > /tmp/attention_reference.txt

Every parameter is filled by name with fill(name, i) (i the flat index), every input with
signal(seed, i); the loss is sum(out * cos(0.3 i)). Printed per case: the output, the attention
weights (where returned), the gradient of each input, and for each parameter the checksum
sum(grad * sin(0.9 i + 0.2)). The C++ tests fill the same numbers and compare; they never run
Python. (Debian 12: `apt-get install python3-torch`; 1.13.1 made these.)
"""
import math

import torch

torch.set_default_dtype(torch.float64)


def fill(name, n):
    base = 1.0 if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name.endswith("norm3.weight") else 0.0
    return torch.tensor([base + 0.3 * math.sin(0.7 * i + 0.37 * len(name)) for i in range(n)])


def signal(seed, shape):
    n = math.prod(shape)
    return torch.tensor([math.sin(0.5 * i + seed) for i in range(n)]).reshape(shape).requires_grad_()


def loss_of(out):
    w = torch.tensor([math.cos(0.3 * i) for i in range(out.numel())]).reshape(out.shape)
    return (out * w).sum()


def checksum(g):
    flat = g.reshape(-1)
    return sum(float(flat[i]) * math.sin(0.9 * i + 0.2) for i in range(flat.numel()))


def load(module):
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(fill(name, p.numel()).reshape(p.shape))


def values(t):
    return "{" + ", ".join("%.12g" % v for v in t.detach().reshape(-1).tolist()) + "}"


def report(case, module, out, weights, inputs):
    loss_of(out).backward()
    print("// %s" % case)
    print("const std::vector<double> %s_out = %s;" % (case, values(out)))
    if weights is not None:
        print("const std::vector<double> %s_weights = %s;" % (case, values(weights)))
    for name, x in inputs:
        print("const std::vector<double> %s_grad_%s = %s;" % (case, name, values(x.grad)))
    print("const std::map<std::string, double> %s_param_checksums = {%s};" % (
        case, ", ".join('{"%s", %.12g}' % (n, checksum(p.grad)) for n, p in module.named_parameters())))
    print()


# mha_cross: sequence-first [L, B, E], cross-attention, a boolean key padding mask and a boolean
# attention mask (true = masked), weights averaged over heads
mha = torch.nn.MultiheadAttention(8, 2)
load(mha)
q, k, v = signal(0.1, (3, 2, 8)), signal(0.2, (4, 2, 8)), signal(0.3, (4, 2, 8))
padding = torch.tensor([[False, False, False, True], [False, True, False, False]])
attn_mask = torch.tensor([[False, False, True, True], [False, False, False, True], [False, False, False, False]])
out, w = mha(q, k, v, key_padding_mask=padding, attn_mask=attn_mask)
report("mha_cross", mha, out, w, [("q", q), ("k", k), ("v", v)])

# mha_kdim: batch_first, kdim 5 and vdim 6 (separate projection weights), per-head weights,
# a float additive attention mask
mha = torch.nn.MultiheadAttention(8, 2, kdim=5, vdim=6, batch_first=True)
load(mha)
q, k, v = signal(0.4, (2, 3, 8)), signal(0.5, (2, 4, 5)), signal(0.6, (2, 4, 6))
float_mask = torch.tensor([[0.0, -1.0, 0.5, 0.0], [0.2, 0.0, -0.3, 0.0], [0.0, 0.0, 0.0, -2.0]])
out, w = mha(q, k, v, attn_mask=float_mask, average_attn_weights=False)
report("mha_kdim", mha, out, w, [("q", q), ("k", k), ("v", v)])

# encoder_post: TransformerEncoderLayer, post-norm, ReLU, batch_first, a key padding mask
layer = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True)
load(layer)
x = signal(0.7, (2, 3, 8))
out = layer(x, src_key_padding_mask=torch.tensor([[False, False, True], [False, False, False]]))
report("encoder_post", layer, out, None, [("x", x)])

# encoder_pre: pre-norm (norm_first), GELU, sequence-first, a causal mask
layer = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, activation="gelu", norm_first=True)
load(layer)
x = signal(0.8, (3, 2, 8))
out = layer(x, src_mask=torch.nn.Transformer.generate_square_subsequent_mask(3))
report("encoder_pre", layer, out, None, [("x", x)])

# decoder_post: TransformerDecoderLayer, post-norm, ReLU, batch_first, a causal target mask
layer = torch.nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True)
load(layer)
tgt, memory = signal(0.9, (2, 3, 8)), signal(1.0, (2, 4, 8))
out = layer(tgt, memory, tgt_mask=torch.nn.Transformer.generate_square_subsequent_mask(3))
report("decoder_post", layer, out, None, [("tgt", tgt), ("memory", memory)])
