#include "security/pickle_inspector.h"

#include <algorithm>
#include <map>
#include <memory>
#include <set>

namespace rampart::security {
namespace {

[[noreturn]] void bad(const std::string& record, uint64_t at, const std::string& what) {
  throw InspectionError("bad_pickle", record + ": " + what + " (byte " + std::to_string(at) + ")");
}

// What the simulation keeps of a value: enough to resolve globals and read tensor metadata.
struct Value {
  // kTorchConstant: a `torch.<name>` global that libtorch reads as a plain integer (a storage
  // type's scalar type, a quantization scheme), not as a callable.
  enum Kind { kOther, kNone, kInt, kString, kGlobal, kTorchConstant, kTuple, kList, kMark, kStorage, kCall };
  Kind kind = kOther;
  int64_t number = 0;
  bool big = false;                           // an integer that does not fit 64 bits
  std::string text;                           // string value; "module.name" for a global
  std::shared_ptr<std::vector<Value>> items;  // tuple items; call arguments
  std::string callee;                         // kCall: the global called
  int depth = 0;             // nesting of tuples and calls (bounded: destruction recurses)
  bool long_string = false;  // a string longer than kMaxName, cut
};

constexpr int kMaxDepth = 512;
constexpr std::size_t kMaxName = 128;

Value make(Value::Kind kind) {
  Value v;
  v.kind = kind;
  return v;
}

// A tuple: immutable and built from values that exist already, so tuples form no cycles.
// Lists, dicts and sets record no items, since mutation (APPEND, SETITEM) could make a
// container hold itself.
Value make_tuple(std::vector<Value> items) {
  Value v = make(Value::kTuple);
  for (const auto& item : items) v.depth = std::max(v.depth, item.depth + 1);
  v.items = std::make_shared<std::vector<Value>>(std::move(items));
  return v;
}

class Machine {
 public:
  Machine(std::string_view bytes, std::string record, const GlobalPolicy& policy,
          std::chrono::steady_clock::time_point deadline)
      : bytes_(bytes), record_(std::move(record)), policy_(policy), deadline_(deadline) {}

  PickleSummary run();

 private:
  uint64_t pos_ = 0;
  uint64_t op_at_ = 0;
  std::string_view bytes_;
  std::string record_;
  const GlobalPolicy& policy_;
  std::chrono::steady_clock::time_point deadline_;
  std::vector<Value> stack_;
  std::vector<std::size_t> marks_;
  std::map<uint64_t, Value> memo_;
  std::set<std::string> seen_globals_;
  std::map<std::string, std::string> policy_answers_;
  PickleSummary out_;

  [[noreturn]] void fail(const std::string& what) const { bad(record_, op_at_, what); }

  std::string_view take(uint64_t n) {
    if (n > bytes_.size() - pos_) fail("truncated argument");
    const std::string_view s = bytes_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  uint64_t le(int width) {
    const std::string_view s = take(static_cast<uint64_t>(width));
    uint64_t v = 0;
    for (int i = width - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[i]);
    return v;
  }
  std::string line() {
    const std::size_t end = bytes_.find('\n', pos_);
    if (end == std::string_view::npos) fail("truncated line argument");
    std::string s(bytes_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return s;
  }
  // The decimal memo index of a protocol-0 GET or PUT.
  uint64_t memo_index_line(const char* opcode) {
    const std::string s = line();
    try {
      return std::stoull(s);
    } catch (const std::invalid_argument&) {
      fail(std::string(opcode) + " argument is not a number");
    } catch (const std::out_of_range&) {
      fail(std::string(opcode) + " argument is out of range");
    }
  }
  Value pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) {
      fail("pops an empty stack");
    }
    Value v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  Value& top() {
    if (stack_.empty()) fail("reads an empty stack");
    return stack_.back();
  }
  std::vector<Value> pop_mark() {
    if (marks_.empty()) fail("needs a MARK that is not there");
    const std::size_t at = marks_.back();
    marks_.pop_back();
    std::vector<Value> items(std::make_move_iterator(stack_.begin() + static_cast<long>(at)),
                             std::make_move_iterator(stack_.end()));
    stack_.resize(at);
    return items;
  }
  void push(Value v) {
    if (v.depth > kMaxDepth) fail("nests values deeper than " + std::to_string(kMaxDepth));
    if (stack_.size() > 1000000) fail("grows its stack past a million values");
    stack_.push_back(std::move(v));
  }
  void push_int(int64_t n) {
    Value v = make(Value::kInt);
    v.number = n;
    push(std::move(v));
  }
  // Strings are kept up to kMaxName bytes (module, class and storage names are short); a
  // longer one is marked so that it can never name a global.
  void push_string(std::string_view s) {
    Value v = make(Value::kString);
    v.text = std::string(s.substr(0, kMaxName));
    v.long_string = s.size() > kMaxName;
    push(std::move(v));
  }
  void push_long(std::string_view data) {
    Value v = make(Value::kInt);
    if (data.size() > 8) {
      v.big = true;
    } else if (!data.empty()) {
      uint64_t u = 0;
      for (std::size_t i = data.size(); i-- > 0;)
        u = (u << 8) | static_cast<unsigned char>(data[i]);
      const int shift = static_cast<int>(64 - 8 * data.size());
      v.number = shift == 0 ? static_cast<int64_t>(u)
                            : static_cast<int64_t>(u << shift) >> shift;  // sign-extend
    }
    push(std::move(v));
  }
  void memo_put(uint64_t index) {
    if (memo_.size() >= 1000000) fail("memoizes more than a million values");
    memo_[index] = top();
  }
  void memo_get(uint64_t index) {
    const auto it = memo_.find(index);
    if (it == memo_.end()) fail("GET of memo slot " + std::to_string(index) + " never PUT");
    push(it->second);
  }
  void global(const std::string& module, const std::string& name) {
    if (module.empty() || name.empty()) fail("GLOBAL with an empty module or name");
    if (module.size() >= kMaxName || name.size() >= kMaxName) fail("GLOBAL with a huge name");
    const std::string qualified = module + "." + name;
    if (seen_globals_.insert(qualified).second) out_.globals.push_back(qualified);
    // One answer per distinct global: the policy may search the archive's code.
    auto cached = policy_answers_.find(qualified);
    if (cached == policy_answers_.end()) {
      cached = policy_answers_.emplace(qualified, policy_(module, name)).first;
    }
    const std::string& why = cached->second;
    if (!why.empty()) {
      throw InspectionError("forbidden_global",
                            record_ + ": global '" + qualified + "' is not allowed: " + why);
    }
    // libtorch resolves `torch.XStorage` and the quantization schemes to integers (every other
    // torch global but torch.device is an error there); a REDUCE or BUILD on such an integer
    // calls the global table's entry of that number, so it must never be called here.
    Value v = make(module == "torch" && name != "device" ? Value::kTorchConstant : Value::kGlobal);
    v.text = qualified;
    push(std::move(v));
  }
  // `args_depth`: the nesting of the argument tuple, known when it was built; recomputing it
  // here would cost a pass over the arguments per call.
  void call(const Value& callee, std::shared_ptr<std::vector<Value>> args, int args_depth);
  void call(const Value& callee, std::vector<Value> args) {
    int depth = 0;
    for (const auto& a : args) depth = std::max(depth, a.depth + 1);
    call(callee, std::make_shared<std::vector<Value>>(std::move(args)), depth);
  }
  void persistent_id(const Value& pid);
  void step(unsigned char op);
};

int64_t as_int(const Value& v, bool& ok) {
  ok = ok && v.kind == Value::kInt && !v.big;
  return v.number;
}

void Machine::persistent_id(const Value& pid) {
  Value storage = make(Value::kStorage);
  if (pid.kind == Value::kTuple && pid.items->size() == 5 &&
      (*pid.items)[0].kind == Value::kString && (*pid.items)[0].text == "storage") {
    const auto& items = *pid.items;
    bool ok = items[1].kind == Value::kTorchConstant && items[2].kind == Value::kString;
    const int64_t numel = as_int(items[4], ok);
    if (!ok || numel < 0) fail("malformed storage persistent id");
    StorageRef ref;
    ref.type = items[1].text.substr(items[1].text.rfind('.') + 1);
    ref.itemsize = storage_itemsize(ref.type);
    if (ref.itemsize == 0) fail("unknown storage type '" + items[1].text + "'");
    ref.key = items[2].text;
    ref.numel = numel;
    out_.storages.push_back(ref);
    storage.text = ref.key;
  }
  push(std::move(storage));
}

void Machine::call(const Value& callee, std::shared_ptr<std::vector<Value>> shared_args,
                   int args_depth) {
  // libtorch's unpickler keeps every global it meets in a table and pushes the global's index:
  // a REDUCE on a plain integer calls that table entry. Only a named global may be called.
  if (callee.kind == Value::kTorchConstant) {
    fail("calls " + callee.text + ", which libtorch reads as an integer: it would call the global "
         "with that index");
  }
  if (callee.kind != Value::kGlobal) {
    fail("calls a value that is not a global (libtorch would call the global with that index)");
  }
  if (!shared_args) shared_args = std::make_shared<std::vector<Value>>();
  const std::vector<Value>& args = *shared_args;
  // Every rebuild function whose first four arguments are (storage, offset, size, stride).
  static const std::set<std::string> kRebuilds{"torch._utils._rebuild_tensor_v2",
                                               "torch._utils._rebuild_tensor",
                                               "torch._utils._rebuild_qtensor"};
  if (kRebuilds.count(callee.text)) {
    bool ok = args.size() >= 4 && args[0].kind == Value::kStorage &&
              args[2].kind == Value::kTuple && args[3].kind == Value::kTuple;
    TensorRef t;
    if (ok) {
      t.storage_key = args[0].text;
      t.offset = as_int(args[1], ok);
      for (const auto& s : *args[2].items) t.sizes.push_back(as_int(s, ok));
      for (const auto& s : *args[3].items) t.strides.push_back(as_int(s, ok));
    }
    if (!ok || t.sizes.size() != t.strides.size()) {
      fail(callee.text.substr(callee.text.rfind('.') + 1) + " called with malformed arguments");
    }
    out_.tensors.push_back(std::move(t));
  }
  // The arguments are shared, not copied: a pickle that calls with one large memoized tuple
  // a million times costs a million steps, not a million copies.
  Value v = make(Value::kCall);
  v.callee = callee.text;
  v.depth = args_depth + 1;
  v.items = std::move(shared_args);
  push(std::move(v));
}

void Machine::step(unsigned char op) {
  switch (op) {
    case '(':  // MARK
      marks_.push_back(stack_.size());
      break;
    case '.':  // STOP: handled by run()
      break;
    case '0':  // POP
      pop();
      break;
    case '1':  // POP_MARK
      pop_mark();
      break;
    case '2':  // DUP
      push(top());
      break;
    case 'F':  // FLOAT
      line();
      push(make(Value::kOther));
      break;
    case 'I': {  // INT (also 00 / 01 booleans)
      const std::string s = line();
      try {
        push_int(std::stoll(s));
      } catch (const std::exception&) {
        fail("INT argument is not a number");
      }
      break;
    }
    case 'J':  // BININT
      push_int(static_cast<int32_t>(le(4)));
      break;
    case 'K':  // BININT1
      push_int(static_cast<int64_t>(le(1)));
      break;
    case 'L': {  // LONG
      Value v = make(Value::kInt);
      v.big = true;
      line();
      push(std::move(v));
      break;
    }
    case 'M':  // BININT2
      push_int(static_cast<int64_t>(le(2)));
      break;
    case 'N':  // NONE
      push(make(Value::kNone));
      break;
    case 'P':  // PERSID
      persistent_id(make(Value::kString));
      line();
      break;
    case 'Q':  // BINPERSID
      persistent_id(pop());
      break;
    case 'R': {  // REDUCE
      Value args = pop();
      Value callee = pop();
      call(callee, args.items, args.depth);
      break;
    }
    case 'S': {  // STRING: a quoted repr
      const std::string s = line();
      if (s.size() < 2 || (s.front() != '\'' && s.front() != '"') || s.back() != s.front()) {
        fail("STRING argument is not quoted");
      }
      push_string(s.substr(1, s.size() - 2));
      break;
    }
    case 'T':  // BINSTRING
      push_string(take(le(4)));
      break;
    case 'U':  // SHORT_BINSTRING
      push_string(take(le(1)));
      break;
    case 'V':  // UNICODE (raw-unicode-escape)
      push_string(line());
      break;
    case 'X':  // BINUNICODE
      push_string(take(le(4)));
      break;
    case 'a':  // APPEND
      pop();
      top();
      break;
    case 'b': {  // BUILD: libtorch calls it as REDUCE (the object is a global's index)
      Value state = pop();
      Value callee = pop();
      call(callee, state.items, state.depth);
      break;
    }
    case 'c': {  // GLOBAL
      const std::string module = line();
      const std::string name = line();
      global(module, name);
      break;
    }
    case 'd':  // DICT
      pop_mark();
      push(make(Value::kOther));
      break;
    case '}':  // EMPTY_DICT
      push(make(Value::kOther));
      break;
    case 'e':  // APPENDS
      pop_mark();
      top();
      break;
    case 'g':  // GET
      memo_get(memo_index_line("GET"));
      break;
    case 'h':  // BINGET
      memo_get(le(1));
      break;
    case 'i': {  // INST: module and name lines, arguments since the mark
      const std::string module = line();
      const std::string name = line();
      std::vector<Value> args = pop_mark();
      global(module, name);
      Value cls = pop();
      call(cls, std::move(args));
      break;
    }
    case 'j':  // LONG_BINGET
      memo_get(le(4));
      break;
    case 'l':  // LIST
      pop_mark();
      push(make(Value::kList));
      break;
    case ']':  // EMPTY_LIST
      push(make(Value::kList));
      break;
    case 'o': {  // OBJ: class and arguments since the mark
      std::vector<Value> items = pop_mark();
      if (items.empty()) fail("OBJ without a class");
      Value cls = items.front();
      items.erase(items.begin());
      call(cls, std::move(items));
      break;
    }
    case 'p':  // PUT
      memo_put(memo_index_line("PUT"));
      break;
    case 'q':  // BINPUT
      memo_put(le(1));
      break;
    case 'r':  // LONG_BINPUT
      memo_put(le(4));
      break;
    case 's':  // SETITEM
      pop();
      pop();
      top();
      break;
    case 't':  // TUPLE
      push(make_tuple(pop_mark()));
      break;
    case ')':  // EMPTY_TUPLE
      push(make_tuple({}));
      break;
    case 'u':  // SETITEMS
      pop_mark();
      top();
      break;
    case 'G':  // BINFLOAT
      take(8);
      push(make(Value::kOther));
      break;
    case 0x80: {  // PROTO
      const auto version = static_cast<int>(le(1));
      if (version > 5) fail("protocol " + std::to_string(version) + " is newer than 5");
      out_.protocol = version;
      break;
    }
    case 0x81:  // NEWOBJ: libtorch pops the arguments and leaves the class's index for BUILD
      pop();
      top();
      break;
    case 0x82:  // EXT1
    case 0x83:  // EXT2
    case 0x84:  // EXT4
      fail("extension codes (copyreg registry) can name any global and are refused");
    case 0x85: {  // TUPLE1
      Value a = pop();
      push(make_tuple({a}));
      break;
    }
    case 0x86: {  // TUPLE2
      Value b = pop(), a = pop();
      push(make_tuple({a, b}));
      break;
    }
    case 0x87: {  // TUPLE3
      Value c = pop(), b = pop(), a = pop();
      push(make_tuple({a, b, c}));
      break;
    }
    case 0x88:  // NEWTRUE
    case 0x89:  // NEWFALSE
      push_int(op == 0x88 ? 1 : 0);
      break;
    case 0x8a:  // LONG1
      push_long(take(le(1)));
      break;
    case 0x8b: {  // LONG4
      const uint64_t n = le(4);
      if (n > 0x7fffffff) fail("LONG4 with a negative length");
      push_long(take(n));
      break;
    }
    case 'B':  // BINBYTES
      push_string(take(le(4)));
      break;
    case 'C':  // SHORT_BINBYTES
      push_string(take(le(1)));
      break;
    case 0x8c:  // SHORT_BINUNICODE
      push_string(take(le(1)));
      break;
    case 0x8d:  // BINUNICODE8
    case 0x8e:  // BINBYTES8
    case 0x96:  // BYTEARRAY8
      push_string(take(le(8)));
      break;
    case 0x8f:  // EMPTY_SET
      push(make(Value::kOther));
      break;
    case 0x90:  // ADDITEMS
      pop_mark();
      top();
      break;
    case 0x91:  // FROZENSET
      pop_mark();
      push(make(Value::kOther));
      break;
    case 0x92: {  // NEWOBJ_EX
      pop();      // kwargs
      Value args = pop();
      Value cls = pop();
      call(cls, args.items, args.depth);
      break;
    }
    case 0x93: {  // STACK_GLOBAL: module and name are strings on the stack
      Value name = pop();
      Value module = pop();
      if (module.kind != Value::kString || name.kind != Value::kString || module.long_string ||
          name.long_string) {
        fail("STACK_GLOBAL whose module and name are not strings");
      }
      global(module.text, name.text);
      break;
    }
    case 0x94:  // MEMOIZE
      memo_put(memo_.size());
      break;
    case 0x95: {  // FRAME: a length hint; the frame must fit in the pickle
      const uint64_t n = le(8);
      if (n > bytes_.size() - pos_) fail("FRAME longer than the pickle");
      break;
    }
    case 0x97:  // NEXT_BUFFER
    case 0x98:  // READONLY_BUFFER
      fail("out-of-band buffers are refused");
    default: {
      static const char* kHex = "0123456789abcdef";
      fail(std::string("unknown opcode 0x") + kHex[op >> 4] + kHex[op & 15]);
    }
  }
}

PickleSummary Machine::run() {
  while (true) {
    if (pos_ >= bytes_.size()) {
      op_at_ = pos_;
      fail("ends without STOP");
    }
    op_at_ = pos_;
    const auto op = static_cast<unsigned char>(bytes_[pos_++]);
    if ((++out_.opcodes & 0xffff) == 0 && std::chrono::steady_clock::now() > deadline_) {
      throw InspectionError("inspection_budget",
                            record_ + ": the inspection ran past its time budget at opcode " +
                                std::to_string(out_.opcodes));
    }
    if (op == '.') break;
    step(op);
  }
  if (pos_ != bytes_.size()) fail("has bytes after STOP");
  if (stack_.size() != 1 || !marks_.empty()) fail("does not leave exactly one value");
  return out_;
}

}  // namespace

int64_t storage_itemsize(const std::string& type) {
  static const std::map<std::string, int64_t> kSizes{
      {"FloatStorage", 4},    {"DoubleStorage", 8},       {"HalfStorage", 2},
      {"BFloat16Storage", 2}, {"LongStorage", 8},         {"IntStorage", 4},
      {"ShortStorage", 2},    {"CharStorage", 1},         {"ByteStorage", 1},
      {"BoolStorage", 1},     {"ComplexFloatStorage", 8}, {"ComplexDoubleStorage", 16},
      {"QInt8Storage", 1},    {"QUInt8Storage", 1},       {"QInt32Storage", 4},
      {"QUInt4x2Storage", 1}, {"QUInt2x4Storage", 1}};
  const auto it = kSizes.find(type);
  return it == kSizes.end() ? 0 : it->second;
}

PickleSummary inspect_pickle(std::string_view bytes, const std::string& record,
                             const GlobalPolicy& policy,
                             std::chrono::steady_clock::time_point deadline) {
  return Machine(bytes, record, policy, deadline).run();
}

}  // namespace rampart::security
