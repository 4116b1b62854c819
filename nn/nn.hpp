#pragma once
// Everything in nn/: modules, layers, initialisers, losses, serialisation, data.
#include "energy.hpp"
#include "serialize.hpp"
#include "data/data.hpp"
