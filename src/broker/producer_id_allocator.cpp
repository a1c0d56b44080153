#include "broker/producer_id_allocator.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

namespace oncemq::broker {

namespace {

Status SyncPath(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return Status::IoError("open " + path.string() + ": " + std::strerror(errno));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Status::IoError("fsync " + path.string() + ": " + std::strerror(errno));
  return Status::Ok();
}

}  // namespace

Status ProducerIdAllocator::Load() {
  std::lock_guard lock(mu_);
  std::ifstream in(file_);
  if (!in) return Status::Ok();  // first start
  std::string text;
  in >> text;
  try {
    size_t used = 0;
    int64_t stored = std::stoll(text, &used);
    if (used != text.size() || stored < 0) throw std::invalid_argument(text);
    next_ = reserved_until_ = stored;
  } catch (const std::exception&) {
    return Status::Corruption("unreadable producer id file " + file_.string() + ": '" + text + "'");
  }
  return Status::Ok();
}

Status ProducerIdAllocator::Persist(int64_t reserved_until) {
  auto tmp = file_;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << reserved_until << "\n";
    if (!out.flush()) return Status::IoError("write " + tmp.string());
  }
  if (Status s = SyncPath(tmp); !s.ok()) return s;
  std::error_code ec;
  std::filesystem::rename(tmp, file_, ec);
  if (ec) return Status::IoError("rename " + tmp.string() + ": " + ec.message());
  return SyncPath(file_.parent_path());
}

Result<ProducerId> ProducerIdAllocator::Allocate() {
  std::lock_guard lock(mu_);
  if (next_ >= reserved_until_) {
    if (Status s = Persist(next_ + kBlockSize); !s.ok()) return s;
    reserved_until_ = next_ + kBlockSize;
  }
  return ProducerId(next_++);
}

}  // namespace oncemq::broker
