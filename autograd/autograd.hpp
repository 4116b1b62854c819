#pragma once
// Everything in autograd/: Variable, the tape, every op, gradcheck, Jacobian/Hessian-vector products.
#include "error.hpp"
#include "grad_mode.hpp"
#include "variable.hpp"
#include "ops/elementwise.hpp"
#include "ops/linalg.hpp"
#include "ops/reduce.hpp"
#include "ops/select.hpp"
#include "ops/shape.hpp"
#include "gradcheck.hpp"
#include "functional.hpp"
#include "ops/conv.hpp"
#include "ops/pool.hpp"
