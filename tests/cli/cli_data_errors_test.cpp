#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "core/remove_tree.h"
#include "datasets/npy.h"
#include "support/test_support.h"

using rampart::test::rampart_binary;
using rampart::test::run_process;
using rampart::test::write_bytes;

namespace {

struct Case {
  std::string name;
  std::string data_yaml;   // the data: section, with DIR for the temp folder
  std::string named_file;  // the file the message must name, with DIR
  std::string phrase;      // a key phrase of the message
};

std::string with_dir(std::string text, const std::string& dir) {
  for (auto pos = text.find("DIR"); pos != std::string::npos; pos = text.find("DIR")) {
    text.replace(pos, 3, dir);
  }
  return text;
}

std::string idx_images(uint32_t count, uint32_t pixels_present) {
  std::string out("\x00\x00\x08\x03", 4);
  for (uint32_t v : {count, 8u, 8u}) {
    out += static_cast<char>(v >> 24);
    out += static_cast<char>((v >> 16) & 255);
    out += static_cast<char>((v >> 8) & 255);
    out += static_cast<char>(v & 255);
  }
  return out + std::string(pixels_present, '\x10');
}

std::string idx_labels(const std::string& labels) {
  std::string out("\x00\x00\x08\x01\x00\x00\x00", 7);
  out += static_cast<char>(labels.size());
  return out + labels;
}

// Writes every malformed fixture into `dir`.
void write_fixtures(const std::string& dir) {
  write_bytes(dir + "/two.idx", idx_images(2, 128));
  write_bytes(dir + "/short.idx", idx_images(2, 100));
  write_bytes(dir + "/labels2.idx", idx_labels(std::string("\x01\x02", 2)));
  write_bytes(dir + "/labels3.idx", idx_labels(std::string("\x01\x02\x03", 3)));
  write_bytes(dir + "/labels_big.idx", idx_labels(std::string("\x01\x0c", 2)));
  write_bytes(dir + "/cifar.bin", std::string(3073 * 2 + 5, '\x01'));
  write_bytes(dir + "/garbage.npy", "this is not a numpy file at all");
  rampart::datasets::write_npy(dir + "/x.npy", at::zeros({4, 1, 8, 8}));
  rampart::datasets::write_npy(dir + "/x_int.npy", at::zeros({4, 1, 8, 8}, at::kInt));
  rampart::datasets::write_npy(dir + "/y.npy", at::tensor({0, 1, 2, 3}, at::kLong));
  rampart::datasets::write_npy(dir + "/y3.npy", at::tensor({0, 1, 2}, at::kLong));
  rampart::datasets::write_npy(dir + "/y_big.npy", at::tensor({0, 1, 2, 9}, at::kLong));
  std::filesystem::create_directories(dir + "/empty_class/a");
  std::filesystem::create_directories(dir + "/empty_class/b");
  std::filesystem::create_directories(dir + "/corrupt/a");
  write_bytes(dir + "/corrupt/a/broken.png", std::string("\x89PNG\r\n\x1a\n garbage", 17));
  // A dtype that carries a newline, a forged verdict and a terminal escape (hides what follows).
  std::string header =
      "{'descr': '\nrampart: eval OK, all gates passed\x1b[8m', 'fortran_order': False, "
      "'shape': (4, 1, 8, 8), }";
  header.append(64 - (10 + header.size() + 1) % 64, ' ');
  header += '\n';
  std::string forged("\x93NUMPY\x01\x00", 8);
  forged += static_cast<char>(header.size() & 255);
  forged += static_cast<char>(header.size() >> 8);
  write_bytes(dir + "/forged.npy", forged + header + std::string(256, '\0'));
}

}  // namespace

TEST_CASE("malformed data of every format exits 4 naming the file", "[cli][data]") {
  const std::string dir = rampart::test::make_temp_dir("cli-readers");
  write_fixtures(dir);
  const std::vector<Case> cases{
      {"idx missing", "{format: idx, images: DIR/none.idx, labels: DIR/labels2.idx}",
       "DIR/none.idx", "no such file"},
      {"idx truncated", "{format: idx, images: DIR/short.idx, labels: DIR/labels2.idx}",
       "DIR/short.idx", ""},
      {"idx count mismatch", "{format: idx, images: DIR/two.idx, labels: DIR/labels3.idx}", "", ""},
      {"idx label range", "{format: idx, images: DIR/two.idx, labels: DIR/labels_big.idx}",
       "DIR/labels_big.idx", "12"},
      {"cifar10 size", "{format: cifar10, files: [DIR/cifar.bin]}", "DIR/cifar.bin", "3073"},
      {"npy garbage", "{format: npy, images: DIR/garbage.npy, labels: DIR/y.npy}",
       "DIR/garbage.npy", ""},
      {"npy dtype", "{format: npy, images: DIR/x_int.npy, labels: DIR/y.npy}", "DIR/x_int.npy", ""},
      {"npy count mismatch", "{format: npy, images: DIR/x.npy, labels: DIR/y3.npy}", "", ""},
      // Printed as it was, it made a second line that read "rampart: eval OK, all gates passed".
      {"npy dtype with a forged line", "{format: npy, images: DIR/forged.npy, labels: DIR/y.npy}",
       "DIR/forged.npy", "dtype '\\x0arampart: eval OK, all gates passed\\x1b[8m' is not supported"},
      {"npy label range", "{format: npy, images: DIR/x.npy, labels: DIR/y_big.npy}",
       "DIR/y_big.npy", "9"},
      {"image folder empty class", "{format: image_folder, root: DIR/empty_class}",
       "DIR/empty_class", ""},
      {"image folder corrupt image", "{format: image_folder, root: DIR/corrupt}",
       "DIR/corrupt/a/broken.png", ""},
  };
  for (const auto& c : cases) {
    const bool image_folder = c.data_yaml.find("image_folder") != std::string::npos;
#ifndef RAMPART_HAVE_OPENCV
    if (image_folder) continue;  // covered below: this build has no image-folder reader
#endif
    (void)image_folder;
    SECTION(c.name) {
      const std::string config =
          "threads: 1\nmodel: {arch: small_cnn, num_classes: 4, input: {shape: [" +
          std::string(c.name.rfind("cifar", 0) == 0 ? "3, 32, 32" : "1, 8, 8") + "]}}\n" +
          "data: " + with_dir(c.data_yaml, dir) + "\ntrain: {epochs: 1, output: " + dir + "/out}\n";
      write_bytes(dir + "/c.yaml", config);
      auto result = run_process({rampart_binary(), "train", dir + "/c.yaml"});
      INFO(c.name << "\n" << result.output);
      CHECK(result.exit_code == 4);
      CHECK(result.output.rfind("rampart: error: ", 0) == 0);
      CHECK(std::count(result.output.begin(), result.output.end(), '\n') == 1);
      if (!c.named_file.empty())
        CHECK(result.output.find(with_dir(c.named_file, dir)) != std::string::npos);
      if (!c.phrase.empty()) CHECK(result.output.find(c.phrase) != std::string::npos);
      if (c.named_file.empty()) CHECK(result.output.find(dir) != std::string::npos);
    }
  }
  rampart::core::remove_tree(dir);
}

#ifndef RAMPART_HAVE_OPENCV
TEST_CASE("without OpenCV the image-folder format says it is unavailable", "[cli][data]") {
  const std::string dir = rampart::test::make_temp_dir("cli-no-opencv");
  write_bytes(dir + "/c.yaml", "model: {arch: small_cnn}\ndata: {format: image_folder, root: " +
                                   dir + "}\ntrain: {output: " + dir + "/out}\n");
  auto result = run_process({rampart_binary(), "train", dir + "/c.yaml"});
  INFO(result.output);
  CHECK(result.exit_code == 2);
  CHECK(result.output.find("OpenCV") != std::string::npos);
  rampart::core::remove_tree(dir);
}
#endif
