// Passing accepted connections from the master to a worker: one
// SOCK_SEQPACKET message per connection, carrying the descriptor
// (SCM_RIGHTS) and a sequence number. The worker acknowledges with the
// highest sequence number it has taken, so the master knows which
// connections it may close its own copy of, and which to hand to another
// worker if this one dies first.
#pragma once

#include <cstdint>

namespace band {

// Creates the two ends of a worker's channel: [0] for the master, [1] for
// the worker. Both are non-blocking and close-on-exec. Throws std::system_error.
void make_channel(int (&ends)[2]);

enum class transfer { done, would_block, closed };

// Sends `connection_fd` with `sequence`. Throws std::system_error on errors
// other than a full channel (would_block) or a worker that is gone (closed).
transfer send_connection(int channel_fd, int connection_fd, std::uint64_t sequence);

// Receives one connection into `connection_fd` and `sequence`.
transfer receive_connection(int channel_fd, int& connection_fd, std::uint64_t& sequence);

// Sends or receives an acknowledgement: every connection up to and including
// `sequence` is taken.
transfer send_ack(int channel_fd, std::uint64_t sequence);
transfer receive_ack(int channel_fd, std::uint64_t& sequence);

}  // namespace band
