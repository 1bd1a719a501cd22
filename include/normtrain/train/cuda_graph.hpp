#pragma once

#include <functional>
#include <memory>
#include <string>

// CUDA graphs without CUDA in the header: this build may have none (see
// src/train/CMakeLists.txt), and the trainer that uses them compiles the same either way.

namespace normtrain {

// Whether this build can capture CUDA graphs: it was compiled against a LibTorch with CUDA.
bool cuda_graphs_built();

// While it lives, CUDA work the calling thread issues on `device_index` goes to a stream of its
// own, as graph capture needs (it refuses the default stream). That stream first waits for the
// work queued before; the work queued after it ends waits for the stream.
class CudaStreamScope {
 public:
  explicit CudaStreamScope(int device_index);
  ~CudaStreamScope();
  CudaStreamScope(const CudaStreamScope&) = delete;
  CudaStreamScope& operator=(const CudaStreamScope&) = delete;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The CUDA kernels some work launches on the current stream, recorded once and replayed: each
// replay runs them again with the same arguments on the same memory, so the tensors the work
// read or wrote must outlive the graph and keep their places. Tensors the work allocates come
// from the graph's own memory pool.
class CudaGraph {
 public:
  CudaGraph();
  ~CudaGraph();
  CudaGraph(CudaGraph&&) noexcept;
  CudaGraph& operator=(CudaGraph&&) noexcept;

  // Records what `work` launches, without running it (on a stream other than the default
  // one: see CudaStreamScope). Throws when the work cannot be captured; the graph is then
  // empty.
  void capture(const std::function<void()>& work);
  // Runs the recorded kernels on the current stream.
  void replay();
  bool empty() const { return !state_; }

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace normtrain
