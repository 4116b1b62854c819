#pragma once
// A whole training run in one .npz, to resume after a crash as if nothing had happened: the
// model, the optimizer (every buffer and step count), the lr scheduler, the random generator,
// the epoch and step, a format version and a CRC-32 per array. PyTorch users write
// torch.save({"model": ..., "optimizer": ..., "epoch": ...}); here one call saves and one
// call restores all of it, and the file is written so that a crash never loses the last one.
//
// This sits above both nn and optim (it saves a Module together with an Optimizer), as the
// umbrella header does; nothing below includes it.
#include <cstdint>
#include <random>
#include <string>

#include "../optim/optimizer.hpp"
#include "../optim/scheduler.hpp"
#include "module.hpp"

namespace tg::nn {

/// Where a run is: the epoch it is in and the optimizer steps taken so far (or within the
/// epoch; tapegrad stores the numbers and leaves their meaning to the loop).
struct TrainingProgress {
  std::int64_t epoch = 0;
  std::int64_t step = 0;
  bool operator==(const TrainingProgress&) const = default;
};

/// The format version save_training_state writes; load_training_state reads this and older.
inline constexpr std::int64_t training_state_version = 1;

/// Saves everything a run needs to resume bit for bit into one .npz that numpy.load opens:
///   model.<name>        the model's state_dict (parameters and buffers, float32 or float64)
///   optimizer.<name>    the optimizer's state_dict (hyperparameters, step counts, buffers)
///   scheduler.<name>    the scheduler's last_epoch and base_lrs (only with a scheduler)
///   rng.mt19937_64      the generator's state words (uint64)
///   progress.epoch, progress.step, format.version   (int64)
///   format.crc32        the CRC-32 of every other array's data, in name order (uint32)
/// Written to a temporary file beside path, fsync'ed, renamed over path, and the folder
/// fsync'ed: killed at any instant, path holds either the previous state or this one.
template <class T>
void save_training_state(const std::string& path, const Module<T>& model, const optim::Optimizer<T>& optimizer,
                         const optim::LRScheduler* scheduler, TrainingProgress progress,
                         const std::mt19937_64& rng = generator());

/// Restores what save_training_state wrote into the live model, optimizer, scheduler and
/// generator, and returns the progress. Everything is read and checked before anything is
/// changed: a missing, truncated or corrupted file (a CRC mismatch), a file of another model
/// (names, shapes or value type differ), of another optimizer or scheduler setup, or of a newer
/// format version throws a tg::Error naming the file and the problem, and leaves the model,
/// optimizer, scheduler and generator as they were.
template <class T>
TrainingProgress load_training_state(const std::string& path, Module<T>& model, optim::Optimizer<T>& optimizer,
                                     optim::LRScheduler* scheduler, std::mt19937_64& rng = generator());

}  // namespace tg::nn
