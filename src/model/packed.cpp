// oneDNN's prepacked linear layers, which libtorch registers (mkldnn::_reorder_linear_weight,
// mkldnn::_linear_pointwise: what torch.compile's CPU freezing pass uses) but which are not
// aten operators, so tch has no binding for them. Called through the dispatcher, boxed: the
// schemas are looked up by name at run time, so a libtorch without them is detected, not a
// link error. Tensors cross as tch's handles (heap `at::Tensor`s); errors come back as
// malloc'd strings the caller frees with bigyo_packed_free_error.
#include <ATen/core/Tensor.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/ivalue.h>
#include <ATen/core/stack.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>
#include <string>

namespace {

char *copy_error(const char *what) {
  size_t n = std::strlen(what);
  char *s = static_cast<char *>(std::malloc(n + 1));
  if (s != nullptr) {
    std::memcpy(s, what, n + 1);
  }
  return s;
}

std::optional<c10::OperatorHandle> find(const char *name, const char *overload) {
  return c10::Dispatcher::singleton().findSchema({name, overload});
}

const std::optional<c10::OperatorHandle> &reorder_op() {
  static const std::optional<c10::OperatorHandle> op = find("mkldnn::_reorder_linear_weight", "");
  return op;
}

const std::optional<c10::OperatorHandle> &linear_op() {
  static const std::optional<c10::OperatorHandle> op = find("mkldnn::_linear_pointwise", "");
  return op;
}

template <typename F> char *guarded(F &&body) {
  try {
    body();
    return nullptr;
  } catch (const std::exception &e) {
    return copy_error(e.what());
  } catch (...) {
    return copy_error("unknown C++ exception");
  }
}

} // namespace

extern "C" {

// 1 when this libtorch has both operators (built with oneDNN), else 0.
int bigyo_packed_available() {
  try {
    return reorder_op().has_value() && linear_op().has_value() ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

// The weight `[out, in]` reordered into oneDNN's blocked layout for its dtype and this CPU.
char *bigyo_packed_reorder(const at::Tensor *weight, at::Tensor **out) {
  return guarded([&] {
    if (!reorder_op().has_value()) {
      throw std::runtime_error("mkldnn::_reorder_linear_weight is not in this libtorch");
    }
    torch::jit::Stack stack;
    stack.emplace_back(*weight);
    stack.emplace_back(c10::IValue()); // batch_size: any
    reorder_op()->callBoxed(&stack);
    *out = new at::Tensor(stack.at(0).toTensor());
  });
}

// x W^T + b with a weight from bigyo_packed_reorder, then `attr` ("none", "relu", "gelu") with
// `algorithm` ("none" or "tanh" for gelu; "" otherwise) fused into the product.
char *bigyo_packed_linear(const at::Tensor *x, const at::Tensor *packed, const at::Tensor *bias,
                          const char *attr, const char *algorithm, at::Tensor **out) {
  return guarded([&] {
    if (!linear_op().has_value()) {
      throw std::runtime_error("mkldnn::_linear_pointwise is not in this libtorch");
    }
    torch::jit::Stack stack;
    stack.emplace_back(*x);
    stack.emplace_back(*packed);
    if (bias != nullptr) {
      stack.emplace_back(*bias);
    } else {
      stack.emplace_back(c10::IValue());
    }
    stack.emplace_back(std::string(attr));
    stack.emplace_back(c10::List<std::optional<at::Scalar>>());
    if (algorithm != nullptr && algorithm[0] != '\0') {
      stack.emplace_back(std::string(algorithm));
    } else {
      stack.emplace_back(c10::IValue());
    }
    linear_op()->callBoxed(&stack);
    *out = new at::Tensor(stack.at(0).toTensor());
  });
}

void bigyo_packed_free_error(char *error) { std::free(error); }

} // extern "C"
