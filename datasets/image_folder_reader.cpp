#include "datasets/image_folder_reader.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <vector>

#ifdef RAMPART_HAVE_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#endif

#include "core/error.h"
#include "core/quiet_stderr.h"

namespace rampart::datasets {

void validate(const ImageFolderOptions& o) {
  if (o.channels() != 1 && o.channels() != 3) {
    throw ConfigError("image_folder: channels must be 1 or 3, got " + std::to_string(o.channels()));
  }
  if (o.height() < 0 || o.width() < 0 || (o.height() == 0) != (o.width() == 0)) {
    throw ConfigError(
        "image_folder: height and width must both be 0 (keep the image size) or "
        "both positive, got " +
        std::to_string(o.height()) + "x" + std::to_string(o.width()));
  }
  if (o.num_classes() < 0) {
    throw ConfigError("image_folder: num_classes must be 0 (one per folder) or positive, got " +
                      std::to_string(o.num_classes()));
  }
}

#ifndef RAMPART_HAVE_OPENCV

bool image_folder_available() { return false; }

Dataset read_image_folder(const std::string& root, const ImageFolderOptions& options) {
  validate(options);
  throw ConfigError(root +
                    ": the image_folder data format is unavailable because this build of "
                    "Rampart has no OpenCV (rebuild with -DRAMPART_WITH_OPENCV=ON)");
}

#else

namespace {

namespace fs = std::filesystem;

bool is_image_file(const fs::path& p) {
  static const char* const kExtensions[] = {".png", ".jpg", ".jpeg", ".bmp", ".pgm",
                                            ".ppm", ".tif", ".tiff", ".webp"};
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::any_of(std::begin(kExtensions), std::end(kExtensions),
                     [&](const char* e) { return ext == e; });
}

bool hidden(const fs::path& p) { return p.filename().string().rfind('.', 0) == 0; }

/// Sorted entries of `dir` that are folders (want_dirs) or image files (!want_dirs).
std::vector<fs::path> list_sorted(const fs::path& dir, bool want_dirs) {
  std::vector<fs::path> out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) throw DataError(dir.string() + ": cannot list folder: " + ec.message());
  for (const fs::directory_entry& e : it) {
    if (hidden(e.path())) continue;
    std::error_code type_ec;
    if (want_dirs ? e.is_directory(type_ec)
                  : (e.is_regular_file(type_ec) && is_image_file(e.path()))) {
      out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end(), [](const fs::path& a, const fs::path& b) {
    return a.filename().string() < b.filename().string();
  });
  return out;
}

std::string size_text(const cv::Size& s) {
  return std::to_string(s.height) + "x" + std::to_string(s.width) + " (HxW)";
}

/// Decodes one image as 8-bit gray or RGB; throws DataError naming the file.
cv::Mat load_image(const std::string& path, int64_t channels) {
  cv::Mat img;
  try {
    core::QuietStderr quiet;  // libpng/libjpeg print their own complaints about corrupt files
    img = cv::imread(path, channels == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    throw DataError(path + ": cannot decode image: " + what.substr(0, what.find('\n')));
  }
  if (img.empty()) throw DataError(path + ": cannot decode image (unreadable or corrupt)");
  if (img.depth() != CV_8U) img.convertTo(img, CV_8U);
  if (channels == 3) cv::cvtColor(img, img, cv::COLOR_BGR2RGB);
  return img;
}

}  // namespace

bool image_folder_available() { return true; }

Dataset read_image_folder(const std::string& root, const ImageFolderOptions& options) {
  validate(options);
  std::error_code ec;
  if (!fs::exists(root, ec)) throw DataError(root + ": no such folder");
  if (!fs::is_directory(root, ec)) throw DataError(root + ": is not a folder");

  const std::vector<fs::path> class_dirs = list_sorted(root, /*want_dirs=*/true);
  if (class_dirs.empty()) {
    throw DataError(root + ": no class subfolders found (expected one subfolder per class)");
  }
  const auto num_found = static_cast<int64_t>(class_dirs.size());
  if (options.num_classes() > 0 && num_found > options.num_classes()) {
    throw DataError(root + ": found " + std::to_string(num_found) +
                    " class folders but num_classes is " + std::to_string(options.num_classes()));
  }
  std::vector<std::pair<fs::path, int64_t> > files;
  Dataset out;
  for (int64_t c = 0; c < num_found; ++c) {
    const std::vector<fs::path> images = list_sorted(class_dirs[c], /*want_dirs=*/false);
    if (images.empty()) {
      throw DataError(class_dirs[c].string() +
                      ": class folder holds no images (.png, .jpg, "
                      ".jpeg, .bmp, .pgm, .ppm, .tif, .tiff, .webp)");
    }
    for (const fs::path& p : images) files.emplace_back(p, c);
    out.class_names.push_back(class_dirs[c].filename().string());
  }

  const int64_t n = static_cast<int64_t>(files.size());
  const int64_t ch = options.channels();
  cv::Size size(static_cast<int>(options.width()), static_cast<int>(options.height()));
  const bool resize = options.height() > 0;
  std::string first_file;
  at::Tensor pixels;  // uint8 [N, H, W, C], allocated once the size is known
  at::Tensor labels = at::empty({n}, at::kLong);
  int64_t* label_data = labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const std::string path = files[i].first.string();
    cv::Mat img = load_image(path, ch);
    if (!pixels.defined()) {
      if (!resize) size = img.size();
      first_file = path;
      pixels = at::empty({n, size.height, size.width, ch}, at::kByte);
    }
    if (img.size() != size) {
      if (!resize) {
        throw DataError(path + ": image is " + size_text(img.size()) + " but the first image (" +
                        first_file + ") is " + size_text(size) +
                        "; set height and width to resize every image");
      }
      cv::Mat resized;
      cv::resize(img, resized, size, 0, 0, cv::INTER_AREA);
      img = resized;
    }
    if (!img.isContinuous()) img = img.clone();
    std::memcpy(pixels[i].data_ptr(), img.data, img.total() * img.elemSize());
    label_data[i] = files[i].second;
  }

  out.images = pixels.permute({0, 3, 1, 2}).contiguous().to(at::kFloat).div_(255.0);
  out.labels = labels;
  out.num_classes = options.num_classes() > 0 ? options.num_classes() : num_found;
  out.source = root;
  return out;
}

#endif  // RAMPART_HAVE_OPENCV

}  // namespace rampart::datasets
