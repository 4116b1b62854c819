#pragma once
// Everything in nn/energy/ (tg::energy): LeCun's energy losses and inference over Y and Z.
#include "inference.hpp"
#include "losses.hpp"
