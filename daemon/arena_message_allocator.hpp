#pragma once
// Request and response of a callback-API unary method on one protobuf arena per call:
// a reply of many small messages (ListMessages: 100 summaries, each with addresses and a
// ref) is built with a few block allocations and freed at once when gRPC releases the
// call, instead of one malloc and one free per message and repeated field.
//
// Usage, before the server starts:
//   static arena_message_allocator<Req, Resp> allocator;
//   service.SetMessageAllocatorFor_Method(&allocator);
// The allocator must outlive the server. Thread-safe (no shared state).
#include <cstddef>

#include <google/protobuf/arena.h>
#include <grpcpp/support/message_allocator.h>

namespace mailbroker::daemon {

// First arena block per call, and the largest block the arena grows to. 64 KiB stays
// below glibc's mmap threshold (128 KiB): blocks come from and go back to the heap.
inline constexpr std::size_t arena_first_block_bytes = 4u << 10;
inline constexpr std::size_t arena_max_block_bytes = 64u << 10;

template <class Request, class Response>
class arena_message_allocator final : public grpc::MessageAllocator<Request, Response> {
 public:
  grpc::MessageHolder<Request, Response>* AllocateMessages() override { return new holder(); }

 private:
  class holder final : public grpc::MessageHolder<Request, Response> {
   public:
    holder() : arena_(options()) {
      this->set_request(google::protobuf::Arena::CreateMessage<Request>(&arena_));
      this->set_response(google::protobuf::Arena::CreateMessage<Response>(&arena_));
    }
    // gRPC calls this once the call is done with both messages.
    void Release() override { delete this; }

   private:
    static google::protobuf::ArenaOptions options() {
      google::protobuf::ArenaOptions o;
      o.start_block_size = arena_first_block_bytes;
      o.max_block_size = arena_max_block_bytes;
      return o;
    }
    google::protobuf::Arena arena_;
  };
};

}  // namespace mailbroker::daemon
