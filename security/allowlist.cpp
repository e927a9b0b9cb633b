#include "security/allowlist.h"

#include <cctype>
#include <fstream>

#include "core/error.h"

namespace rampart::security {

Allowlist read_allowlist(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw DataError(path + ": cannot open the allowlist of pinned hashes");
  Allowlist list;
  list.file = path;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    std::string hash = line.substr(start, 64);
    bool hex = hash.size() == 64;
    for (char& ch : hash) {
      hex = hex && std::isxdigit(static_cast<unsigned char>(ch));
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
    const std::size_t after = start + 64;
    if (!hex || (after < line.size() && line[after] != ' ' && line[after] != '\t')) {
      throw ConfigError(path + ":" + std::to_string(number) +
                        ": not a SHA-256 line (64 hexadecimal digits, then optionally a name, "
                        "as sha256sum prints)");
    }
    list.sha256.insert(hash);
  }
  if (in.bad()) throw DataError(path + ": read failed");
  return list;
}

}  // namespace rampart::security
