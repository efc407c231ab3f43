"""The functional layer's cases, written once for minitl and PyTorch.

Each case is (name, fn, inputs): fn(lib, *tensors) where `lib` has
`F` (minitl.nn.functional or torch.nn.functional), `tensor(array)` (a
constant tensor: integer targets) and `stats(array)` (a fresh running
statistic: a NumPy array for minitl, a tensor for torch). Inputs are
float64 arrays made from a seed, except the constants the fn builds itself.
"""
import numpy as np

TARGETS = np.array([2, 0, 4, 1, 4, 3])
TARGETS_SOME_IGNORED = np.array([2, -100, 4, 1, -100, 3])  # -100: the default ignore_index
CLASS_WEIGHTS = np.array([0.5, 2.0, 1.5, 1.0, 0.25])
STATS_MEAN = np.array([0.1, -0.2, 0.3])
STATS_VAR = np.array([0.5, 1.5, 2.0])
EMBEDDING_INDEX = np.array([[1, 0, 4], [3, 1, 1]])


def conv(stride=1, padding=0, dilation=1, groups=1, bias=True):
    if bias:
        return lambda lib, x, w, b: lib.F.conv2d(x, w, b, stride, padding, dilation, groups)
    return lambda lib, x, w: lib.F.conv2d(x, w, None, stride, padding, dilation, groups)


def batch_norm(training, affine=True, stats=True):
    def run(lib, x, *affine_params):
        mean = lib.stats(STATS_MEAN) if stats else None
        var = lib.stats(STATS_VAR) if stats else None
        y = lib.F.batch_norm(x, mean, var, *affine_params, training=training, momentum=0.1, eps=1e-5)
        return y
    return run


NN_CASES = [
    ("linear", lambda lib, x, w, b: lib.F.linear(x, w, b), [(4, 5), (3, 5), (3,)]),
    ("linear_3d_no_bias", lambda lib, x, w: lib.F.linear(x, w), [(2, 4, 5), (3, 5)]),
    ("conv_basic", conv(), [(2, 3, 6, 5), (4, 3, 3, 3), (4,)]),
    ("conv_stride2_pad1", conv(stride=2, padding=1), [(2, 2, 7, 6), (3, 2, 3, 3), (3,)]),
    ("conv_rect_kernel_pad2", conv(padding=(2, 1)), [(1, 2, 5, 5), (2, 2, 3, 2), (2,)]),
    ("conv_dilation2", conv(dilation=2, padding=2), [(2, 2, 7, 7), (3, 2, 3, 3), (3,)]),
    ("conv_groups2_no_bias", conv(groups=2, bias=False), [(2, 4, 5, 5), (6, 2, 3, 3)]),
    ("conv_depthwise", conv(groups=3, padding=1, stride=(1, 2)), [(2, 3, 5, 6), (3, 1, 3, 3), (3,)]),
    ("conv_1x1_stride2", conv(stride=2), [(1, 3, 5, 5), (2, 3, 1, 1), (2,)]),
    ("conv_pad_beyond_kernel", conv(padding=(3, 2)), [(2, 2, 4, 5), (2, 2, 3, 3), (2,)]),
    ("conv_dilated_rect_groups", conv(padding=(1, 2), dilation=(2, 1), groups=2), [(2, 4, 6, 5), (4, 2, 2, 3), (4,)]),
    ("max_pool_2", lambda lib, x: lib.F.max_pool2d(x, 2), [(2, 3, 6, 4)]),
    ("max_pool_3_stride2_pad1", lambda lib, x: lib.F.max_pool2d(x, 3, 2, 1), [(2, 2, 7, 6)]),
    ("max_pool_odd_size", lambda lib, x: lib.F.max_pool2d(x, 2), [(1, 2, 5, 7)]),
    ("max_pool_gaps_between_windows", lambda lib, x: lib.F.max_pool2d(x, 2, 3), [(2, 2, 8, 7)]),
    ("avg_pool_2", lambda lib, x: lib.F.avg_pool2d(x, 2), [(2, 3, 6, 4)]),
    ("avg_pool_3_stride2_pad1", lambda lib, x: lib.F.avg_pool2d(x, 3, 2, 1), [(2, 2, 7, 6)]),
    ("avg_pool_rect", lambda lib, x: lib.F.avg_pool2d(x, (2, 3), (1, 2)), [(1, 2, 5, 7)]),
    ("avg_pool_padding_tiled", lambda lib, x: lib.F.avg_pool2d(x, 2, 2, 1), [(2, 2, 4, 6)]),
    ("adaptive_divides", lambda lib, x: lib.F.adaptive_avg_pool2d(x, (2, 3)), [(2, 2, 4, 6)]),
    ("adaptive_uneven", lambda lib, x: lib.F.adaptive_avg_pool2d(x, 3), [(2, 2, 5, 7)]),
    ("adaptive_global", lambda lib, x: lib.F.adaptive_avg_pool2d(x, 1), [(2, 3, 4, 4)]),
    ("batch_norm_train_4d", batch_norm(True), [(4, 3, 3, 2), (3,), (3,)]),
    ("batch_norm_train_2d", batch_norm(True), [(5, 3), (3,), (3,)]),
    ("batch_norm_train_3d_no_affine", batch_norm(True, affine=False), [(3, 3, 4)]),
    ("batch_norm_train_no_stats", batch_norm(True, stats=False), [(4, 3, 2, 2), (3,), (3,)]),
    ("batch_norm_eval_4d", batch_norm(False), [(2, 3, 2, 2), (3,), (3,)]),
    ("batch_norm_train_weight_only", batch_norm(True), [(4, 3, 2, 2), (3,)]),
    ("batch_norm_eval_no_affine", batch_norm(False), [(2, 3, 3)]),
    ("relu", lambda lib, x: lib.F.relu(x), [(3, 4)]),
    ("leaky_relu", lambda lib, x: lib.F.leaky_relu(x, 0.2), [(3, 4)]),
    ("sigmoid_tanh", lambda lib, x: lib.F.tanh(lib.F.sigmoid(x)), [(3, 4)]),
    ("softmax_dim1", lambda lib, x: lib.F.softmax(x, dim=1), [(3, 5)]),
    ("softmax_dim0_3d", lambda lib, x: lib.F.softmax(x, dim=0), [(3, 2, 4)]),
    ("log_softmax_last", lambda lib, x: lib.F.log_softmax(x, dim=-1), [(2, 3, 5)]),
    ("cross_entropy_mean", lambda lib, x: lib.F.cross_entropy(x, lib.tensor(TARGETS)), [(6, 5)]),
    ("cross_entropy_sum", lambda lib, x: lib.F.cross_entropy(x, lib.tensor(TARGETS), reduction="sum"), [(6, 5)]),
    ("cross_entropy_none_smoothing",
     lambda lib, x: lib.F.cross_entropy(x, lib.tensor(TARGETS), reduction="none", label_smoothing=0.1), [(6, 5)]),
    ("nll_loss", lambda lib, x: lib.F.nll_loss(lib.F.log_softmax(x, dim=1), lib.tensor(TARGETS)), [(6, 5)]),
    ("cross_entropy_weighted_ignored",
     lambda lib, x: lib.F.cross_entropy(x, lib.tensor(TARGETS_SOME_IGNORED), lib.tensor(CLASS_WEIGHTS)), [(6, 5)]),
    ("cross_entropy_weighted_smoothing_sum",
     lambda lib, x: lib.F.cross_entropy(x, lib.tensor(TARGETS), weight=lib.tensor(CLASS_WEIGHTS),
                                        ignore_index=4, reduction="sum", label_smoothing=0.2), [(6, 5)]),
    ("cross_entropy_weighted_smoothing_mean",
     lambda lib, x: lib.F.cross_entropy(x, lib.tensor(TARGETS), weight=lib.tensor(CLASS_WEIGHTS),
                                        label_smoothing=0.3), [(6, 5)]),
    ("nll_loss_weighted_ignored",
     lambda lib, x: lib.F.nll_loss(x, lib.tensor(TARGETS), weight=lib.tensor(CLASS_WEIGHTS), ignore_index=1,
                                   reduction="none"), [(6, 5)]),
    ("mse_loss", lambda lib, x, t: lib.F.mse_loss(x, t), [(3, 4), (3, 4)]),
    ("mse_loss_sum", lambda lib, x, t: lib.F.mse_loss(x, t, reduction="sum"), [(5,), (5,)]),
    ("bce_with_logits", lambda lib, x: lib.F.binary_cross_entropy_with_logits(x, lib.tensor(TARGETS % 2 * 1.0)),
     [(6,)]),
    ("bce_with_logits_none",
     lambda lib, x, t: lib.F.binary_cross_entropy_with_logits(x, t, reduction="none"), [(2, 3), (2, 3)]),
    ("bce_with_logits_weight_pos_weight",
     lambda lib, x, t: lib.F.binary_cross_entropy_with_logits(x, t, lib.tensor(np.array([[0.5], [2.0]])),
                                                              pos_weight=lib.tensor(np.array([3.0, 0.5, 1.0]))),
     [(2, 3), (2, 3)]),
    ("gelu", lambda lib, x: lib.F.gelu(x * 3), [(4, 5)]),
    ("gelu_tanh", lambda lib, x: lib.F.gelu(x * 3, approximate="tanh"), [(4, 5)]),
    ("unfold", lambda lib, x: lib.F.unfold(x, 3), [(2, 3, 6, 5)]),
    ("unfold_rect_strided_dilated",
     lambda lib, x: lib.F.unfold(x, (2, 3), dilation=(2, 1), padding=1, stride=2), [(2, 2, 7, 6)]),
    ("unfold_gaps_between_windows", lambda lib, x: lib.F.unfold(x, 2, stride=3), [(1, 2, 5, 5)]),
    ("fold", lambda lib, x: lib.F.fold(x, (5, 6), 2), [(2, 8, 20)]),
    ("fold_rect_strided_padded",
     lambda lib, x: lib.F.fold(x, output_size=(6, 5), kernel_size=(3, 2), padding=1, stride=(2, 1), dilation=(1, 2)),
     [(1, 12, 15)]),
    # activations (issue 32); `x * 1` makes the in-place input a non-leaf, which PyTorch records too
    ("elu", lambda lib, x: lib.F.elu(x * 2, alpha=0.7), [(4, 5)]),
    ("elu_inplace", lambda lib, x: lib.F.elu(x * 1, inplace=True), [(3, 4)]),
    ("relu_inplace", lambda lib, x: lib.F.relu(x * 1, inplace=True) * x, [(3, 4)]),
    ("leaky_relu_inplace", lambda lib, x: lib.F.leaky_relu(x * 1, 0.1, inplace=True) * x, [(3, 4)]),
    ("silu", lambda lib, x: lib.F.silu(x * 3), [(4, 5)]),
    ("silu_inplace", lambda lib, x: lib.F.silu(x * 1, inplace=True), [(3, 4)]),
    ("softplus", lambda lib, x: lib.F.softplus(x * 3), [(4, 5)]),
    ("softplus_beta_threshold", lambda lib, x: lib.F.softplus(x * 3, beta=2, threshold=3), [(4, 5)]),
    ("hardtanh", lambda lib, x: lib.F.hardtanh(x * 2, -0.5, 1.5) * x, [(4, 5)]),
    ("hardtanh_inplace", lambda lib, x: lib.F.hardtanh(x * 2, inplace=True) * x, [(4, 5)]),
    ("prelu_one_slope", lambda lib, x, a: lib.F.prelu(x, a), [(3, 4), (1,)]),
    ("prelu_per_channel", lambda lib, x, a: lib.F.prelu(x, a), [(2, 3, 4), (3,)]),
    # normalisation and embedding
    ("layer_norm", lambda lib, x, w, b: lib.F.layer_norm(x, (3, 4), w, b), [(2, 3, 4), (3, 4), (3, 4)]),
    ("layer_norm_no_affine", lambda lib, x: lib.F.layer_norm(x, (5,), eps=1e-3), [(4, 5)]),
    ("group_norm", lambda lib, x, w, b: lib.F.group_norm(x, 2, w, b), [(2, 4, 3, 2), (4,), (4,)]),
    ("group_norm_instance_no_affine", lambda lib, x: lib.F.group_norm(x, 3), [(2, 3, 5)]),
    ("embedding", lambda lib, w: lib.F.embedding(lib.tensor(EMBEDDING_INDEX), w) ** 2, [(5, 3)]),
    ("normalize", lambda lib, x: lib.F.normalize(x), [(3, 4)]),
    ("normalize_p3_dim0", lambda lib, x: lib.F.normalize(x, p=3, dim=0), [(3, 4)]),
    ("cosine_similarity", lambda lib, a, b: lib.F.cosine_similarity(a, b), [(3, 4), (3, 4)]),
    ("cosine_similarity_broadcast_last", lambda lib, a, b: lib.F.cosine_similarity(a, b, dim=-1), [(2, 3, 4), (4,)]),
    # losses (issue 32)
    ("l1_loss", lambda lib, x, t: lib.F.l1_loss(x, t), [(3, 4), (3, 4)]),
    ("l1_loss_none", lambda lib, x, t: lib.F.l1_loss(x, t, reduction="none"), [(5,), (5,)]),
    ("smooth_l1_loss", lambda lib, x, t: lib.F.smooth_l1_loss(x * 2, t), [(4, 5), (4, 5)]),
    ("smooth_l1_loss_beta_sum", lambda lib, x, t: lib.F.smooth_l1_loss(x, t, reduction="sum", beta=0.5),
     [(4, 5), (4, 5)]),
    ("huber_loss", lambda lib, x, t: lib.F.huber_loss(x * 2, t), [(4, 5), (4, 5)]),
    ("huber_loss_delta_none", lambda lib, x, t: lib.F.huber_loss(x, t, reduction="none", delta=0.7), [(4, 5), (4, 5)]),
    ("binary_cross_entropy", lambda lib, x, t: lib.F.binary_cross_entropy(lib.F.sigmoid(x), lib.F.sigmoid(t)),
     [(3, 4), (3, 4)]),
    ("binary_cross_entropy_weight_sum",
     lambda lib, x, t: lib.F.binary_cross_entropy(lib.F.sigmoid(x), lib.F.sigmoid(t),
                                                  lib.tensor(np.array([0.5, 2.0, 1.0, 0.1])), reduction="sum"),
     [(3, 4), (3, 4)]),
    ("kl_div_batchmean",
     lambda lib, x, t: lib.F.kl_div(lib.F.log_softmax(x, dim=1), lib.F.softmax(t, dim=1), reduction="batchmean"),
     [(3, 5), (3, 5)]),
    ("kl_div_log_target_none",
     lambda lib, x, t: lib.F.kl_div(lib.F.log_softmax(x, dim=1), lib.F.log_softmax(t, dim=1), reduction="none",
                                    log_target=True), [(3, 5), (3, 5)]),
    ("multi_margin_loss", lambda lib, x: lib.F.multi_margin_loss(x, lib.tensor(TARGETS)), [(6, 5)]),
    ("multi_margin_loss_p2_weight_none",
     lambda lib, x: lib.F.multi_margin_loss(x, lib.tensor(TARGETS), p=2, margin=0.5, weight=lib.tensor(CLASS_WEIGHTS),
                                            reduction="none"), [(6, 5)]),
    ("cross_entropy_probabilities",
     lambda lib, x, t: lib.F.cross_entropy(x, lib.F.softmax(t, dim=1)), [(6, 5), (6, 5)]),
    ("cross_entropy_probabilities_spatial_weighted_smoothing",
     lambda lib, x, t: lib.F.cross_entropy(x, lib.F.softmax(t, dim=1), lib.tensor(CLASS_WEIGHTS), reduction="sum",
                                           label_smoothing=0.2), [(2, 5, 3), (2, 5, 3)]),
    ("cross_entropy_spatial", lambda lib, x: lib.F.cross_entropy(x, lib.tensor(TARGETS.reshape(2, 1, 3))),
     [(2, 5, 1, 3)]),
    ("cross_entropy_spatial_weighted_ignored_none",
     lambda lib, x: lib.F.cross_entropy(x, lib.tensor(TARGETS_SOME_IGNORED.reshape(2, 3)), lib.tensor(CLASS_WEIGHTS),
                                        reduction="none"), [(2, 5, 3)]),
    ("nll_loss_spatial_weighted",
     lambda lib, x: lib.F.nll_loss(lib.F.log_softmax(x, dim=1), lib.tensor(TARGETS.reshape(2, 3)),
                                   lib.tensor(CLASS_WEIGHTS)), [(2, 5, 3)]),
]


def unpool_after_pool(lib, x):
    values, indices = lib.F.max_pool2d(x, 2, return_indices=True, ceil_mode=True)
    return lib.F.max_unpool2d(values, indices, 2, output_size=x.shape[-2:])


# Issue 32 (a student's PyTorch code runs unchanged): padding modes, 'same'/'valid', unbatched input,
# conv1d, ceil_mode and count_include_pad, adaptive max pooling, unpooling, interpolate.
NN_CASES += [
    ("conv_same_even_kernel_dilated", conv(padding="same", dilation=(1, 2)), [(2, 3, 6, 7), (4, 3, 4, 3), (4,)]),
    ("conv_valid_unbatched", conv(padding="valid", stride=2), [(3, 7, 6), (2, 3, 3, 3), (2,)]),
    ("conv1d", lambda lib, x, w, b: lib.F.conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=2),
     [(2, 4, 9), (6, 2, 3), (6,)]),
    ("conv1d_same_unbatched", lambda lib, x, w: lib.F.conv1d(x, w, padding="same"), [(3, 8), (2, 3, 4)]),
    ("pad_reflect_2d", lambda lib, x: lib.F.pad(x, (1, 2, 3, 0), mode="reflect"), [(2, 3, 4, 5)]),
    ("pad_replicate_1d", lambda lib, x: lib.F.pad(x, (3, 1), mode="replicate"), [(2, 3, 4)]),
    ("pad_circular_2d", lambda lib, x: lib.F.pad(x, (2, 1, 1, 3), mode="circular"), [(1, 2, 4, 5)]),
    ("pad_constant_crop", lambda lib, x: lib.F.pad(x, (-1, 2, 1, -2, 1, 1), value=0.5), [(2, 3, 4, 5)]),
    ("interpolate_nearest_scale", lambda lib, x: lib.F.interpolate(x, scale_factor=1.7), [(2, 2, 3, 4)]),
    ("interpolate_nearest_size_3d", lambda lib, x: lib.F.interpolate(x, size=7), [(2, 3, 4)]),
    ("interpolate_bilinear", lambda lib, x: lib.F.interpolate(x, size=(5, 7), mode="bilinear"), [(2, 2, 3, 4)]),
    ("interpolate_bilinear_align_corners",
     lambda lib, x: lib.F.interpolate(x, scale_factor=(2, 0.6), mode="bilinear", align_corners=True),
     [(1, 2, 3, 5)]),
    ("max_pool_ceil_mode", lambda lib, x: lib.F.max_pool2d(x, 3, 2, 1, ceil_mode=True), [(2, 2, 8, 7)]),
    ("max_pool_unbatched", lambda lib, x: lib.F.max_pool2d(x, 2), [(3, 4, 6)]),
    ("avg_pool_ceil_exclude_pad",
     lambda lib, x: lib.F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), [(2, 2, 8, 7)]),
    ("avg_pool_ceil_include_pad", lambda lib, x: lib.F.avg_pool2d(x, 2, ceil_mode=True), [(1, 2, 5, 7)]),
    ("avg_pool_divisor_override", lambda lib, x: lib.F.avg_pool2d(x, 3, 2, 1, divisor_override=4), [(2, 2, 6, 5)]),
    ("adaptive_max_uneven", lambda lib, x: lib.F.adaptive_max_pool2d(x, (3, 4)), [(2, 2, 8, 7)]),
    ("adaptive_max_divides_unbatched", lambda lib, x: lib.F.adaptive_max_pool2d(x, 2), [(3, 4, 6)]),
    ("max_unpool_after_ceil_pool", unpool_after_pool, [(2, 2, 5, 7)]),
]


def make_inputs(shapes, seed):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape) for shape in shapes]
