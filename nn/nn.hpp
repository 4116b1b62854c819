#pragma once
// Everything in nn/: modules, layers, initialisers, losses, serialisation, data.
#include "activation.hpp"
#include "checkpoint.hpp"
#include "dropout.hpp"
#include "embedding.hpp"
#include "energy.hpp"
#include "init.hpp"
#include "linear.hpp"
#include "losses.hpp"
#include "module.hpp"
#include "normalization.hpp"
#include "serialize.hpp"
#include "data/data.hpp"
