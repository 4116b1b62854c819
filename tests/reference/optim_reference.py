#!/usr/bin/python3
"""Reference values for tests/optim/test_optim_reference.cpp, computed by PyTorch's optimizers and
learning-rate schedulers in float64.

    /usr/bin/python3 tests/reference/optim_reference.py > /tmp/optim_reference.txt

prints one C++ initializer per case: the parameter after each of STEPS steps, each step fed the
fixed gradient GRADS[step], starting from PARAM. Paste the lists into the test's table when a
case is added or changed. The test itself never runs Python or torch. (Debian 12: `apt-get
install python3-torch`; Debian's python, not a virtualenv's. 1.13.1 made these.)
"""
import math
import warnings

import torch

PARAM = [0.5, -1.2, 2.0, 0.03]
# large gradients first, then smaller ones, so AMSGrad's running max differs from v; signs change
GRADS = [
    [0.3, -1.5, 2.0, 0.01],
    [-0.2, -1.0, 0.5, 0.02],
    [0.05, 0.4, -0.1, -0.03],
    [0.6, 0.1, 0.02, 0.0],
    [-0.4, 0.25, -0.05, 0.04],
]

# (name as in the C++ table, torch class, keyword options); the C++ side builds the same options
CASES = [
    ("sgd", torch.optim.SGD, dict(lr=0.1)),
    ("sgd_momentum", torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
    ("sgd_dampening", torch.optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.3)),
    ("sgd_nesterov", torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("sgd_weight_decay", torch.optim.SGD, dict(lr=0.1, momentum=0.5, weight_decay=0.05)),
    ("sgd_maximize", torch.optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.05, maximize=True)),
    ("adam", torch.optim.Adam, dict(lr=0.1)),
    ("adam_betas_eps", torch.optim.Adam, dict(lr=0.05, betas=(0.8, 0.95), eps=1e-3)),
    ("adam_amsgrad", torch.optim.Adam, dict(lr=0.1, amsgrad=True)),
    ("adam_weight_decay", torch.optim.Adam, dict(lr=0.1, weight_decay=0.1)),
    ("adam_amsgrad_weight_decay_maximize", torch.optim.Adam,
     dict(lr=0.1, weight_decay=0.1, amsgrad=True, maximize=True)),
    ("adamw", torch.optim.AdamW, dict(lr=0.1, weight_decay=0.1)),
    ("adamw_amsgrad", torch.optim.AdamW, dict(lr=0.1, betas=(0.8, 0.95), weight_decay=0.2, amsgrad=True)),
    ("rmsprop", torch.optim.RMSprop, dict(lr=0.01)),
    ("rmsprop_alpha_weight_decay", torch.optim.RMSprop, dict(lr=0.01, alpha=0.9, eps=1e-4, weight_decay=0.1)),
    ("rmsprop_centered", torch.optim.RMSprop, dict(lr=0.01, centered=True)),
    ("rmsprop_momentum", torch.optim.RMSprop, dict(lr=0.01, momentum=0.9)),
    ("rmsprop_centered_momentum_maximize", torch.optim.RMSprop,
     dict(lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.1, maximize=True)),
    ("adagrad", torch.optim.Adagrad, dict(lr=0.1)),
    ("adagrad_lr_decay", torch.optim.Adagrad, dict(lr=0.1, lr_decay=0.1)),
    ("adagrad_weight_decay_accumulator", torch.optim.Adagrad,
     dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.5, eps=1e-6)),
    ("adagrad_maximize", torch.optim.Adagrad, dict(lr=0.1, lr_decay=0.05, maximize=True)),
]

SCHEDULER_BASE_LR = 0.1
SCHEDULER_EPOCHS = 10
SCHEDULERS = [
    ("step_lr", lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5)),
    ("exponential_lr", lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.7)),
    # past T_max, so the cosine's way back up is compared too
    ("cosine_annealing_lr", lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=4, eta_min=0.01)),
]


def fmt(values):
    return "{" + ", ".join(repr(float(v)) for v in values) + "}"


def run_optimizer(cls, options):
    p = torch.tensor(PARAM, dtype=torch.float64, requires_grad=True)
    extra = {"foreach": False} if "foreach" in cls.__init__.__code__.co_varnames else {}
    opt = cls([p], **options, **extra)
    steps = []
    for g in GRADS:
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        steps.append(p.detach().clone().tolist())
    return steps


def run_scheduler(make):
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=SCHEDULER_BASE_LR)
    sched = make(opt)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(SCHEDULER_EPOCHS):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    return lrs


def main():
    warnings.simplefilter("ignore")
    print(f"// torch {torch.__version__}")
    for name, cls, options in CASES:
        steps = run_optimizer(cls, options)
        print(f'{{"{name}", {{' + ",\n   ".join(fmt(s) for s in steps) + "}},")
    print(f"// schedulers: base lr {SCHEDULER_BASE_LR}, lr at epochs 0..{SCHEDULER_EPOCHS}")
    for name, make in SCHEDULERS:
        print(f'{{"{name}", {fmt(run_scheduler(make))}}},')


if __name__ == "__main__":
    main()
