#pragma once
// Everything in nn/data/: IDX files, Fashion-MNIST, datasets and the DataLoader.
#include "idx.hpp"
#include "loader.hpp"
#include "fashion_mnist.hpp"
