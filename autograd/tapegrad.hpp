#pragma once
// The umbrella header: #include <tapegrad/tapegrad.hpp>
#include "autograd/autograd.hpp"
