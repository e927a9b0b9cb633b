#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace rampart::defenses::poisoning {

/// Which side of a poisoned class's split holds the poisons. A dirty-label backdoor's poisons
/// are images of the other classes relabelled to the target, so in input space each poison
/// still looks like its source class: the labels of its nearest neighbours among the points of
/// the other classes spread over all of them (about log 9 nats on a 10-class set), while a
/// clean point's nearest other-class neighbours fall on its class's few look-alikes (shirts:
/// T-shirts, pullovers, coats). Measured on a blended-trigger run (docs/poisoning.md): 2.17
/// nats for the poison cluster against 1.36 for the clean shirts; in the network's features the
/// two sides are not told apart this way (1.12 and 1.22), nor by their spread there (the blended
/// poisons form the tighter cluster, BadNets' the wider one). It assumes poisons drawn from
/// several source classes (BadNets, Chen et al.); poisons all taken from one class would give
/// their side a low entropy too.

/// The audit's input space: images [N, C, H, W] average-pooled to at most 16 x 16 (the
/// neighbour search's cost; a garment's identity survives it) and flattened to float32 [N, D];
/// [N, D] inputs are used as they are.
at::Tensor neighbour_space(const at::Tensor& images);

/// The entropy (nats) of the labels of the nearest neighbours (squared Euclidean distance in
/// `inputs`, [N, D]) of up to `queries` evenly spaced points of `members` (int64 indices), the
/// neighbours searched among up to `references` evenly spaced points whose label is not
/// `own_class`. 0 when either set is empty.
double neighbour_label_entropy(const at::Tensor& inputs, const at::Tensor& labels,
                               const at::Tensor& members, int64_t own_class,
                               int64_t queries = 256, int64_t references = 4096);

/// The share of up to `queries` evenly spaced points of `group` (int64 indices) whose nearest
/// point outside the group (squared Euclidean distance in `inputs`, any label) carries a label
/// other than `own_class`: a dirty-label poison group sits among its source classes' images (a
/// share near 1, even when all of it comes from one class and its neighbour-label entropy is
/// low), a clean class's own odd group among its class's other images (near 0). 0 when either
/// set is empty.
double other_class_share(const at::Tensor& inputs, const at::Tensor& labels, const at::Tensor& group,
                         int64_t own_class, int64_t queries = 256);

}  // namespace rampart::defenses::poisoning
