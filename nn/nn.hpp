#pragma once
// Everything in nn/: modules, layers, initialisers, losses, serialisation, data.
#include "serialize.hpp"
#include "data/data.hpp"
