#pragma once
// Everything in optim/: optimizers, schedulers, gradient clipping.
#include "optimizer.hpp"
#include "sgd.hpp"
#include "adam.hpp"
#include "rmsprop.hpp"
#include "adagrad.hpp"
#include "scheduler.hpp"
#include "clip.hpp"
