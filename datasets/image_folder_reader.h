#pragma once

#include <torch/arg.h>

#include <cstdint>
#include <string>

#include "datasets/dataset.h"

namespace rampart::datasets {

/// Options for read_image_folder.
///
/// Example:
///   auto options = ImageFolderOptions().channels(1).height(28).width(28).num_classes(10);
struct ImageFolderOptions {
  /// 1 (grayscale) or 3 (RGB).
  TORCH_ARG(int64_t, channels) = 3;
  /// Output height and width; 0 and 0 take the size of the first image and require every
  /// image to have it; non-zero values resize every image (cv::INTER_AREA).
  TORCH_ARG(int64_t, height) = 0;
  TORCH_ARG(int64_t, width) = 0;
  /// Number of classes of the model; 0 means one per class folder. More class folders than
  /// this is a DataError.
  TORCH_ARG(int64_t, num_classes) = 0;
};

/// Throws ConfigError when `options` cannot be used (channels not 1 or 3, negative sizes,
/// only one of height/width set, negative num_classes).
void validate(const ImageFolderOptions& options);

/// True when this build has OpenCV and therefore read_image_folder.
bool image_folder_available();

/// Reads an image classification folder laid out as torchvision's ImageFolder expects:
/// `root/<class>/<image>`, one subfolder per class. Classes are sorted by name (label =
/// index in that order, names in `Dataset::class_names`); files within a class are sorted by
/// name. Only files ending in .png .jpg .jpeg .bmp .pgm .ppm .tif .tiff .webp (any case)
/// count; other files, and names starting with '.', are ignored. Colour images are converted
/// from OpenCV's BGR to RGB. Returns images float32 [N, C, H, W] (pixel / 255).
///
/// Throws DataError naming the folder or file: root missing or not a folder, no class
/// folders, an empty class folder, an image that cannot be decoded, an image whose size
/// differs from the first one (when height/width are 0), more classes than num_classes.
/// Throws ConfigError when this build has no OpenCV.
///
/// Example:
///   Dataset d = read_image_folder("data/val", ImageFolderOptions().height(32).width(32));
Dataset read_image_folder(const std::string& root,
                          const ImageFolderOptions& options = ImageFolderOptions());

}  // namespace rampart::datasets
