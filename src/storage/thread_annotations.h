// Clang thread-safety annotations and an annotated mutex, so `-Wthread-safety` can check the locking
// rules written next to each field. The macros expand to nothing on compilers without the analysis.
// (Storage is the first user of locks; this belongs in common/ once another module needs it.)
#pragma once

#include <mutex>

#if defined(__clang__)
#define ONCEMQ_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define ONCEMQ_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) ONCEMQ_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY ONCEMQ_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) ONCEMQ_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) ONCEMQ_THREAD_ANNOTATION(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) ONCEMQ_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define REQUIRES(...) ONCEMQ_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) ONCEMQ_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) ONCEMQ_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) ONCEMQ_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define NO_THREAD_SAFETY_ANALYSIS ONCEMQ_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace oncemq::storage {

// std::mutex with the capability attribute the analysis needs.
class CAPABILITY("mutex") Mutex {
 public:
  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

// Holds a Mutex for the lifetime of the scope.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() RELEASE() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* mu_;
};

}  // namespace oncemq::storage
