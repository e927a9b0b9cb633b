#include "security/operator_allowlist.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

namespace rampart::security {
namespace {

// Refused by name, with the effect that rules them out. Checked before the allowlist.
const std::map<std::string, std::string>& denied_by_name() {
  static const std::map<std::string, std::string> kDenied{
      {"aten::from_file", "reads or maps a file"},
      {"aten::save", "writes a file"},
      {"aten::_save_for_mobile", "writes a file"},
      {"aten::_load_for_mobile", "reads a file"},
      {"prim::Print", "prints"},
      {"aten::manual_seed", "re-seeds the process's random number generator"},
      {"aten::seed", "re-seeds the process's random number generator"},
      {"aten::initial_seed", "reads the process's random number generator state"},
      {"prim::fork", "starts work on another thread"},
      {"aten::wait", "waits on work started on another thread"},
      {"prim::rpc_async", "calls another process (RPC)"},
      {"prim::rpc_sync", "calls another process (RPC)"},
      {"prim::rpc_remote", "calls another process (RPC)"},
      {"aten::to_here", "fetches a value from another process (RPC)"},
      {"prim::profile", "profiles"},
      {"prim::profile_ivalue", "profiles"},
      {"prim::RecordFunction", "profiles"},
      {"prim::TimePoint", "reads the clock"},
      {"prim::AddStatValue", "records statistics"},
      {"aten::_record_function_enter", "profiles"},
      {"aten::_record_function_enter_new", "profiles"},
      {"aten::_record_function_exit", "profiles"},
      {"profiler::_record_function_enter", "profiles"},
      {"profiler::_record_function_enter_new", "profiles"},
      {"profiler::_record_function_exit", "profiles"},
      {"aten::set_", "rebinds a tensor to arbitrary storage, offset and strides"},
      {"aten::as_strided", "views arbitrary memory of a storage"},
      {"aten::as_strided_", "views arbitrary memory of a storage"},
      {"aten::_unsafe_view", "reinterprets memory without checks"},
      {"aten::_reshape_alias", "views a storage with sizes and strides it does not check"},
      {"aten::_unsafe_index", "indexes without the bounds checks of aten::index"},
  };
  return kDenied;
}

// Namespaces refused whole: collectives and RPC reach other processes over the network.
constexpr const char* kDeniedNamespaces[] = {"c10d::", "dist_c10d::", "dist_autograd::", "rpc::",
                                             "profiler::"};

// Namespaces allowed whole: int8 kernels (quantized::conv2d, quantized::linear_dynamic, their
// prepack/unpack) are pure tensor math.
constexpr const char* kAllowedNamespaces[] = {"quantized::"};

// TorchScript's control flow and object model.
constexpr const char* kPrim[] = {
    "Constant", "GetAttr", "SetAttr", "CallMethod", "CallFunction", "If", "Loop",
    "ListConstruct", "ListUnpack", "TupleConstruct", "TupleUnpack", "TupleIndex", "TupleSlice",
    "DictConstruct", "DictIndex", "CreateObject", "RaiseException", "Uninitialized",
    "unchecked_cast", "unchecked_unwrap_optional", "isinstance", "NumToTensor",
    "ImplicitTensorToNum", "device", "dtype", "layout", "is_cuda", "is_quantized", "is_sparse",
    "is_sparse_csr", "is_mkldnn", "is_meta", "is_xpu", "is_vulkan", "is_ipu", "is_mps",
    "is_nested", "is_ort", "requires_grad", "shape", "data", "min", "max", "abs", "EnumName",
    "EnumValue", "Enter", "Exit", "tolist", "StringIndex", "name", "index", "layout", "id",
    "AutogradAdd", "AutogradZero", "MKLDNNGroup", "ConstantChunk", "BroadcastSizes",
    "ChunkSizes", "ReductionSizes", "type", "grad", "itemsize", "nbytes", "rangelist", "Drop",
    "TensorExprGroup", "TensorExprDynamicGroup", "TypeCheck", "FusionGroup", "StaticSubgraph",
    "CudaFusionGroup", "CudaFusionGuard", "DifferentiableGraph", "FallbackGraph",
    "RequiresGradCheck", "infer_size", "Guard", "BailOut", "BailoutTemplate", "VarConcat",
    "VarStack", "ModuleContainerIndex"};

// Pure tensor operators and the scalar, list, dict and string helpers TorchScript compiles
// Python to. In-place forms ("add_") pass when their base does.
constexpr const char* kAten[] = {
    // arithmetic and elementwise math
    "add", "sub", "rsub", "mul", "div", "true_divide", "floor_divide", "remainder", "fmod",
    "neg", "negative", "abs", "absolute", "sign", "sgn", "pow", "float_power", "sqrt", "rsqrt",
    "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan", "asin", "acos",
    "atan", "atan2", "arctan2", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "sigmoid",
    "logit", "erf", "erfc", "erfinv", "floor", "ceil", "round", "trunc", "fix", "frac",
    "reciprocal", "square", "clamp", "clamp_min", "clamp_max", "clip", "lerp", "addcmul",
    "addcdiv", "hypot", "maximum", "minimum", "fmax", "fmin", "where", "masked_fill",
    "masked_scatter", "masked_select", "nan_to_num", "isnan", "isinf", "isfinite", "isposinf",
    "isneginf", "logical_and", "logical_or", "logical_not", "logical_xor", "bitwise_and",
    "bitwise_or", "bitwise_xor", "bitwise_not", "eq", "ne", "lt", "le", "gt", "ge", "equal",
    "allclose", "isclose", "xlogy", "deg2rad", "rad2deg", "signbit", "copysign", "heaviside",
    "__and__", "__or__", "__xor__", "__not__", "__lshift__", "__rshift__", "__iand__", "__ior__",
    "__ixor__", "__ilshift__", "__irshift__", "mvlgamma", "lgamma", "digamma", "polygamma",
    "i0", "sinc", "logaddexp", "logaddexp2", "diff", "gradient",
    // activations
    "relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish", "hardtanh",
    "hardsigmoid", "hardswish", "hardshrink", "softshrink", "tanhshrink", "threshold", "prelu",
    "_prelu_kernel", "rrelu", "glu", "softmax", "log_softmax", "_softmax", "_log_softmax",
    "softplus", "log_sigmoid", "logsigmoid", "_masked_softmax",
    // linear algebra
    "linear", "matmul", "mm", "bmm", "addmm", "addbmm", "baddbmm", "addmv", "addr", "mv", "dot",
    "vdot", "einsum", "outer", "ger", "t", "bilinear", "tensordot", "kron", "cross",
    "linalg_cross", "norm", "frobenius_norm", "nuclear_norm", "linalg_vector_norm",
    "linalg_matrix_norm", "linalg_norm", "cdist", "_cdist_forward", "pdist",
    "cosine_similarity", "pairwise_distance", "renorm", "triu", "tril", "diag", "diagonal",
    "diag_embed", "trace", "chain_matmul", "linalg_multi_dot", "_linalg_vector_norm",
    "_addmm_activation", "fbgemm_linear_int8_weight_fp32_activation",
    "fbgemm_linear_quantize_weight", "fbgemm_pack_quantized_matrix",
    // convolution, pooling, resampling, padding
    "conv1d", "conv2d", "conv3d", "convolution", "_convolution", "_convolution_mode",
    "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "conv_tbc", "max_pool1d",
    "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
    "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d",
    "adaptive_avg_pool2d", "adaptive_avg_pool3d", "_adaptive_avg_pool2d", "_adaptive_avg_pool3d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d", "lp_pool1d",
    "lp_pool2d", "max_unpool2d", "max_unpool3d", "pixel_shuffle", "pixel_unshuffle",
    "channel_shuffle", "native_channel_shuffle", "upsample_nearest1d", "upsample_nearest2d",
    "upsample_nearest3d", "_upsample_nearest_exact1d", "_upsample_nearest_exact2d",
    "_upsample_nearest_exact3d", "upsample_bilinear2d", "upsample_bicubic2d",
    "upsample_linear1d", "upsample_trilinear3d", "_upsample_bilinear2d_aa",
    "_upsample_bicubic2d_aa", "__interpolate", "__upsample", "__upsample_bilinear",
    "grid_sampler", "grid_sampler_2d", "grid_sampler_3d", "affine_grid_generator", "im2col",
    "col2im", "unfold", "reflection_pad1d", "reflection_pad2d", "reflection_pad3d",
    "replication_pad1d", "replication_pad2d", "replication_pad3d", "constant_pad_nd", "pad",
    "_pad_circular", "_pad_enum",
    // normalisation, dropout, embeddings
    "batch_norm", "_batch_norm_impl_index", "native_batch_norm", "_native_batch_norm_legit",
    "_native_batch_norm_legit_no_training", "instance_norm", "layer_norm", "native_layer_norm",
    "group_norm", "native_group_norm", "local_response_norm", "dropout", "feature_dropout",
    "alpha_dropout", "feature_alpha_dropout", "native_dropout", "embedding", "embedding_bag",
    "_embedding_bag", "embedding_renorm", "one_hot", "_weight_norm", "normalize",
    // attention, transformers, recurrent layers
    "_native_multi_head_attention", "scaled_dot_product_attention",
    "_scaled_dot_product_attention", "_scaled_dot_product_attention_math",
    "_fused_sdp_choice", "_transform_bias_rescale_qkv", "_transformer_encoder_layer_fwd",
    "_native_decoder_only_multi_head_attention", "_nested_tensor_from_mask",
    "_nested_tensor_from_mask_left_aligned", "_nested_tensor_from_tensor_list",
    "to_padded_tensor", "_triton_multi_head_attention", "lstm", "gru", "rnn_tanh", "rnn_relu",
    "lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell", "quantized_lstm",
    "quantized_gru", "quantized_lstm_cell", "quantized_gru_cell", "quantized_rnn_relu_cell",
    "quantized_rnn_tanh_cell", "_pack_padded_sequence", "_pad_packed_sequence",
    "_pack_sequence", "_pad_sequence", "pad_sequence", "_thnn_fused_lstm_cell",
    "_thnn_fused_gru_cell", "_use_cudnn_rnn_flatten_weight", "_cudnn_rnn_flatten_weight",
    // reductions, sorting, statistics
    "sum", "mean", "prod", "max", "min", "amax", "amin", "aminmax", "argmax", "argmin", "std",
    "var", "std_mean", "var_mean", "logsumexp", "cumsum", "cumprod", "cummax", "cummin",
    "logcumsumexp", "median", "nanmedian", "mode", "kthvalue", "topk", "sort", "argsort",
    "msort", "all", "any", "count_nonzero", "nansum", "nanmean", "dist", "quantile",
    "nanquantile", "bincount", "histc", "cov", "corrcoef",
    // shapes, views, indexing, joining
    "view", "reshape", "view_as", "reshape_as", "flatten", "unflatten", "squeeze", "unsqueeze",
    "permute", "transpose", "contiguous", "expand", "expand_as", "repeat", "repeat_interleave",
    "tile", "narrow", "narrow_copy", "select", "slice", "index_select", "gather", "scatter",
    "scatter_add", "scatter_reduce", "index", "index_put", "index_add", "index_copy",
    "index_fill", "index_reduce", "take", "take_along_dim", "chunk", "split",
    "split_with_sizes", "unsafe_chunk", "unsafe_split", "tensor_split", "hsplit", "vsplit",
    "unbind", "cat", "concat", "concatenate", "_cat", "stack", "hstack", "vstack", "dstack",
    "column_stack", "flip", "fliplr", "flipud", "roll", "rot90", "movedim", "moveaxis",
    "swapaxes", "swapdims", "meshgrid", "broadcast_tensors", "broadcast_to", "atleast_1d",
    "atleast_2d", "atleast_3d", "nonzero", "argwhere", "_unique", "_unique2", "unique_dim",
    "unique_consecutive", "searchsorted", "bucketize", "clone", "detach", "numpy_T", "mT",
    "mH", "matrix_H", "adjoint", "dim", "size", "sym_size", "numel", "sym_numel", "stride",
    "sym_stride", "storage_offset", "is_contiguous", "item", "_local_scalar_dense",
    "_shape_as_tensor", "_reshape_from_tensor", "squeeze_copy",
    "unsqueeze_copy", "view_copy", "permute_copy", "expand_copy", "masked_fill",
    "copy", "copy_", "fill", "zero", "resolve_conj", "resolve_neg", "conj", "real", "imag",
    "view_as_real", "view_as_complex", "type_as", "to", "_to_copy", "float", "double", "half",
    "bfloat16", "int", "long", "short", "char", "byte", "bool", "cpu", "cuda", "requires_grad",
    "is_floating_point", "is_complex", "is_signed", "is_nonzero", "is_same_size", "result_type",
    "can_cast", "promote_types", "_autocast_to_reduced_precision", "_autocast_to_full_precision",
    "element_size", "tensor", "scalar_tensor", "as_tensor", "_infer_size",
    // making tensors and sampling (sampling draws from the generator; it does not re-seed it)
    "zeros", "ones", "full", "empty", "empty_strided", "zeros_like", "ones_like", "full_like",
    "empty_like", "new_zeros", "new_ones", "new_full", "new_empty", "new_empty_strided",
    "new_tensor", "arange", "range", "linspace", "logspace", "eye", "triu_indices",
    "tril_indices", "rand", "randn", "randint", "rand_like", "randn_like", "randint_like",
    "randperm", "bernoulli", "multinomial", "normal", "uniform", "exponential", "poisson",
    "cauchy", "log_normal", "geometric", "random", "complex", "polar",
    // quantization
    "quantize_per_tensor", "quantize_per_tensor_dynamic", "quantize_per_channel", "dequantize",
    "q_scale", "q_zero_point", "q_per_channel_scales", "q_per_channel_zero_points",
    "q_per_channel_axis", "int_repr", "qscheme", "fake_quantize_per_tensor_affine",
    "fake_quantize_per_channel_affine", "_make_per_tensor_quantized_tensor",
    "_make_per_channel_quantized_tensor", "_choose_qparams_per_tensor", "choose_qparams",
    "_saturate_weight_to_fp16", "_empty_affine_quantized", "_empty_per_channel_affine_quantized",
    "fbgemm_linear_fp16_weight_fp32_activation", "fbgemm_pack_gemm_matrix_fp16",
    // scalars, lists, dicts, strings: what TorchScript compiles Python's own operations to
    "Int", "Float", "Bool", "Complex", "ScalarImplicit", "IntImplicit", "FloatImplicit",
    "ComplexImplicit", "str", "format", "__contains__", "__derive_index", "__range_length",
    "__is__", "__isnot__", "__getitem__", "__round_to_zero_floordiv", "append", "extend",
    "insert", "pop", "remove", "clear", "reverse", "count", "keys", "values", "items", "get",
    "setdefault", "update", "popitem", "dict", "list", "_set_item", "len", "sorted", "floordiv",
    "divmod", "mathremainder", "radians", "degrees", "gcd", "factorial", "hash", "ord", "chr",
    "bin", "hex", "oct", "lower", "upper", "strip", "lstrip", "rstrip", "startswith",
    "endswith", "join", "splitlines", "replace", "find", "rfind", "isdigit", "isalpha",
    "isalnum", "isspace", "islower", "isupper", "capitalize", "title", "center", "ljust",
    "rjust", "zfill", "partition", "rpartition", "swapcase", "casefold", "expandtabs",
    "isidentifier", "isdecimal", "isnumeric", "isprintable", "istitle", "__upsample_nearest",
    // warnings.warn, in torch.nn's own scripted code (attention, transformers): its text
    // reaches only Rampart's log, escaped (security::route_libtorch_warnings_to_log)
    "warn", "_get_tracing_state", "is_scripting", "is_autocast_enabled", "is_autocast_cpu_enabled",
    "is_grad_enabled", "is_inference_mode_enabled", "_has_compatible_shallow_copy_type", "_assert_async", "_dim_arange", "_size_if_not_equal",
    "_unwrap_optional", "modf", "frexp", "ldexp", "list_with_default", "_list_to_tensor",
    "_tensor_to_list", "tolist",
    "_no_grad_fill_", "_no_grad_uniform_", "_no_grad_normal_", "_no_grad_zero_", "device",
    "layout"};

const std::set<std::string>& allowlist() {
  static const std::set<std::string> kAllowed = [] {
    std::set<std::string> out;
    for (const char* name : kPrim) out.insert(std::string("prim::") + name);
    for (const char* name : kAten) out.insert(std::string("aten::") + name);
    return out;
  }();
  return kAllowed;
}

bool starts_with(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

}  // namespace

std::string judge_operator(const std::string& kind, const std::vector<std::string>& extra_denied) {
  if (std::find(extra_denied.begin(), extra_denied.end(), kind) != extra_denied.end()) {
    return "denied by security.deny_operators";
  }
  const auto& denied = denied_by_name();
  if (const auto it = denied.find(kind); it != denied.end()) return it->second;
  for (const char* ns : kDeniedNamespaces) {
    if (starts_with(kind, ns)) return "reaches other processes or profiles";
  }
  for (const char* ns : kAllowedNamespaces) {
    if (starts_with(kind, ns)) return "";
  }
  const auto& allowed = allowlist();
  if (allowed.count(kind)) return "";
  // In-place forms ("aten::relu_") are as pure as their base, and "__iadd__"-style names too.
  if (kind.size() > 1 && kind.back() == '_' && kind[kind.size() - 2] != '_' &&
      allowed.count(kind.substr(0, kind.size() - 1))) {
    return "";
  }
  return "not on the allowlist of pure tensor operators";
}

bool parse_operator_list(std::string_view text, std::vector<std::string>& out) {
  out.clear();
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos || end == at || end - at > 200) return false;
    for (std::size_t i = at; i < end; ++i) {
      const auto c = static_cast<unsigned char>(text[i]);
      if (!(std::isalnum(c) || c == '_' || c == ':' || c == '.' || c == '<' || c == '>' ||
            c == ' ')) {
        return false;
      }
    }
    out.emplace_back(text.substr(at, end - at));
    at = end + 1;
  }
  return true;
}

std::vector<std::string> allowed_operators() {
  const auto& allowed = allowlist();
  return {allowed.begin(), allowed.end()};
}

}  // namespace rampart::security
