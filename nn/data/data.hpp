#pragma once
// Everything in nn/data/: IDX files, Fashion-MNIST, datasets, the DataLoader and its samplers.
#include "idx.hpp"
#include "loader.hpp"
#include "fashion_mnist.hpp"
#include "sampler.hpp"
