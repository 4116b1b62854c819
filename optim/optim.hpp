#pragma once
// Everything in optim/: optimizers, schedulers, gradient clipping.
