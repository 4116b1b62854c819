#!/usr/bin/python3
"""Reference values for tests/nn/test_nn_recurrent.cpp, computed by PyTorch's nn.LSTM and nn.GRU in float64.

    /usr/bin/python3 tests/reference/rnn_reference.py > /tmp/rnn_reference.txt

Every parameter and input is a fixed formula of its flat index (below; the C++ test fills its
tensors with the same formulas), so no random numbers cross between the two. For each case it
prints C++ initializers: the output, h_n (and c_n), and the gradients of the loss
L = sum(output * cos(0.3 k)) + sum(h_n * sin(0.7 k + 1)) [+ sum(c_n * cos(0.5 k))] (k the flat
index) with respect to the input and to a few parameters. Paste them into the test when a case
changes. The test itself never runs Python. (Debian 12: apt-get install python3-torch; 1.13.1
made these.)
"""
import math

import torch


def fill(t, seed):
    # value[k] = 0.5 sin(0.37 k + seed) + 0.1 cos(1.3 k): deterministic, varied, |v| <= 0.6
    flat = torch.tensor([0.5 * math.sin(0.37 * k + seed) + 0.1 * math.cos(1.3 * k) for k in range(t.numel())],
                        dtype=torch.float64)
    with torch.no_grad():
        t.copy_(flat.reshape(t.shape))


def weights(shape, fn):
    n = 1
    for s in shape:
        n *= s
    return torch.tensor([fn(k) for k in range(n)], dtype=torch.float64).reshape(shape)


def cpp(name, t):
    values = ", ".join(f"{v:.12g}" for v in t.detach().reshape(-1).tolist())
    print(f"const std::vector<double> {name} = {{{values}}};")


def run(case, module, x, lengths=None, has_c=False):
    for i, (name, p) in enumerate(module.named_parameters()):
        fill(p, i + 1)
    x = x.clone().requires_grad_(True)
    if lengths is not None:
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=module.batch_first, enforce_sorted=False)
        out, state = module(packed)
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=module.batch_first, total_length=x.shape[1 if module.batch_first else 0])
    else:
        out, state = module(x)
    h_n = state[0] if has_c else state
    loss = (out * weights(out.shape, lambda k: math.cos(0.3 * k))).sum()
    loss = loss + (h_n * weights(h_n.shape, lambda k: math.sin(0.7 * k + 1))).sum()
    if has_c:
        c_n = state[1]
        loss = loss + (c_n * weights(c_n.shape, lambda k: math.cos(0.5 * k))).sum()
    loss.backward()
    print(f"// {case}: {module}")
    cpp(f"{case}_output", out)
    cpp(f"{case}_h_n", h_n)
    if has_c:
        cpp(f"{case}_c_n", state[1])
    cpp(f"{case}_grad_input", x.grad)
    params = dict(module.named_parameters())
    for name in ["weight_ih_l0", "weight_hh_l0", "bias_hh_l0", "weight_hh_l1_reverse", "weight_hr_l0"]:
        if name in params:
            cpp(f"{case}_grad_{name}", params[name].grad)
    print()


def main():
    torch.set_default_dtype(torch.float64)
    x = torch.zeros(5, 2, 3)  # [time, batch, features]
    fill(x, 0.5)
    run("lstm", torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True), x, has_c=True)
    run("gru", torch.nn.GRU(3, 4, num_layers=2, bidirectional=True), x)
    xb = torch.zeros(3, 5, 3)  # [batch, time, features], lengths 5, 2, 4
    fill(xb, 0.25)
    run("lstm_lengths", torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True), xb, lengths=[5, 2, 4],
        has_c=True)
    run("gru_lengths", torch.nn.GRU(3, 4, num_layers=1, bidirectional=True, batch_first=True), xb, lengths=[5, 2, 4])
    run("lstm_proj", torch.nn.LSTM(3, 4, proj_size=2), x, has_c=True)


if __name__ == "__main__":
    main()
