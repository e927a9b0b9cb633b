#include "eval/example_images.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdio>

#ifdef RAMPART_HAVE_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace rampart::eval {

#ifndef RAMPART_HAVE_OPENCV

std::string example_images_unavailable() {
  return "this Rampart was built without OpenCV (RAMPART_WITH_OPENCV=OFF), so no example images";
}

ExampleGrid render_example_grid(const std::string& attack_id, const at::Tensor&, const at::Tensor&,
                                const std::vector<std::string>&, const std::vector<std::string>&,
                                double, double) {
  throw std::logic_error("render_example_grid(" + attack_id + "): " + example_images_unavailable());
}

#else

namespace {

constexpr int kTile = 96;       // about the drawn size of the longer image side, in pixels
constexpr int kGap = 10;        // between columns
constexpr int kCaption = 18;    // text line under each tile
constexpr int kRowLabel = 112;  // left margin with the row names
constexpr int kTitle = 30;

const cv::Scalar kInk(40, 40, 40);
const cv::Scalar kRed(30, 30, 200);
const cv::Scalar kGreen(40, 140, 40);

// [C, H, W] float in [lo, hi] -> 8-bit BGR image scaled to the tile size (nearest neighbour,
// so pixels stay visible).
cv::Mat to_tile(const at::Tensor& image, double lo, double hi) {
  at::Tensor hwc = ((image.to(at::kFloat) - lo) / (hi - lo)).clamp(0, 1).mul(255).round();
  hwc = hwc.to(at::kByte).permute({1, 2, 0}).contiguous();
  const int h = static_cast<int>(hwc.size(0)), w = static_cast<int>(hwc.size(1));
  const int c = static_cast<int>(hwc.size(2));
  cv::Mat src(h, w, c == 1 ? CV_8UC1 : CV_8UC3, hwc.data_ptr<uint8_t>());
  cv::Mat bgr;
  if (c == 1) {
    cv::cvtColor(src, bgr, cv::COLOR_GRAY2BGR);
  } else {
    cv::cvtColor(src, bgr, cv::COLOR_RGB2BGR);
  }
  const int scale = std::max(1, (kTile + std::max(h, w) / 2) / std::max(h, w));
  cv::Mat out;
  cv::resize(bgr, out, cv::Size(w * scale, h * scale), 0, 0, cv::INTER_NEAREST);
  return out;
}

void put_text(cv::Mat& canvas, const std::string& text, cv::Point at, const cv::Scalar& color,
              double scale = 0.42, int max_width = 0) {
  std::string shown = text;
  int baseline = 0;
  while (max_width > 0 && shown.size() > 3 &&
         cv::getTextSize(shown, cv::FONT_HERSHEY_SIMPLEX, scale, 1, &baseline).width > max_width) {
    shown = shown.substr(0, shown.size() - 4) + "..";
  }
  cv::putText(canvas, shown, at, cv::FONT_HERSHEY_SIMPLEX, scale, color, 1, cv::LINE_AA);
}

}  // namespace

std::string example_images_unavailable() { return ""; }

ExampleGrid render_example_grid(const std::string& attack_id, const at::Tensor& clean,
                                const at::Tensor& adversarial,
                                const std::vector<std::string>& true_labels,
                                const std::vector<std::string>& predicted_labels, double clip_min,
                                double clip_max) {
  const int k = static_cast<int>(clean.size(0));
  const at::Tensor delta = adversarial.to(at::kFloat) - clean.to(at::kFloat);
  const cv::Mat probe = to_tile(clean[0], clip_min, clip_max);
  const int tile_w = probe.cols, tile_h = probe.rows;
  const int row_h = tile_h + kCaption + 6;
  const int width = kRowLabel + k * (tile_w + kGap) + kGap;
  const int height = kTitle + 3 * row_h + 4;
  cv::Mat canvas(height, width, CV_8UC3, cv::Scalar(255, 255, 255));
  put_text(canvas, attack_id + ": " + std::to_string(k) + " successful examples", {8, 20}, kInk,
           0.55);
  const char* rows[] = {"clean", "adversarial", "perturbation"};
  for (int r = 0; r < 3; ++r) {
    put_text(canvas, rows[r], {8, kTitle + r * row_h + tile_h / 2 + 4}, kInk, 0.45);
  }
  put_text(canvas, "(amplified)", {8, kTitle + 2 * row_h + tile_h / 2 + 20}, kInk, 0.38);
  for (int i = 0; i < k; ++i) {
    const int x = kRowLabel + i * (tile_w + kGap);
    const double amplitude = std::max(delta[i].abs().max().item<double>(), 1e-12);
    const at::Tensor amplified = delta[i] / (2 * amplitude) + 0.5;  // grey = unchanged
    const cv::Mat tiles[] = {to_tile(clean[i], clip_min, clip_max),
                             to_tile(adversarial[i], clip_min, clip_max),
                             to_tile(amplified, 0.0, 1.0)};
    char norm[48];
    std::snprintf(norm, sizeof(norm), "Linf %.3f", delta[i].abs().max().item<double>());
    const std::string captions[] = {true_labels.at(i), "-> " + predicted_labels.at(i), norm};
    const cv::Scalar colors[] = {kGreen, kRed, kInk};
    for (int r = 0; r < 3; ++r) {
      const int y = kTitle + r * row_h;
      tiles[r].copyTo(canvas(cv::Rect(x, y, tile_w, tile_h)));
      cv::rectangle(canvas, cv::Rect(x - 1, y - 1, tile_w + 2, tile_h + 2),
                    cv::Scalar(200, 200, 200));
      put_text(canvas, captions[r], {x, y + tile_h + 14}, colors[r], 0.4, tile_w + kGap - 2);
    }
  }
  std::vector<uchar> png;
  cv::imencode(".png", canvas, png, {cv::IMWRITE_PNG_COMPRESSION, 9});
  ExampleGrid grid;
  grid.attack_id = attack_id;
  grid.file = "images/" + attack_id + ".png";
  grid.png.assign(png.begin(), png.end());
  grid.count = k;
  return grid;
}

#endif  // RAMPART_HAVE_OPENCV

}  // namespace rampart::eval
