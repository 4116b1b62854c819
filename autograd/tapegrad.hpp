#pragma once
// The umbrella header: #include <tapegrad/tapegrad.hpp>
#include "autograd/autograd.hpp"
#include "nn/nn.hpp"
#include "optim/optim.hpp"
