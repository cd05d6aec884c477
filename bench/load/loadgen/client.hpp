// The two ways bench-load-gen sends load, both on one thread:
//  - closed loop: a fixed number of connections, each sending its next
//    request as soon as the previous response arrives;
//  - open loop: a new connection per request, started on a fixed schedule
//    whatever the server's pace, with latency counted from the scheduled
//    time, so a slow server cannot slow the arrivals down.
#pragma once

#include "recorder.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstddef>
#include <memory>
#include <string>

namespace loadgen {

// The request texts, built once.
struct request_texts {
  std::string light;
  std::string heavy;
};

// Builds GET requests for `light_path` and `heavy_path`, with
// "Connection: close" when `close` is set.
request_texts build_requests(const boost::asio::ip::tcp::endpoint& target, const std::string& light_path,
                             const std::string& heavy_path, bool close);

// Starts `connections` closed-loop clients. With `close`, each request opens
// its own connection; otherwise a connection carries request after request.
void start_closed_loop(boost::asio::io_context& context, const boost::asio::ip::tcp::endpoint& target,
                       const request_texts& requests, bool close, std::size_t connections, recorder& results);

// Starts requests at `rate` per second, each on a new connection, while
// fewer than `max_in_flight` are open; a request due beyond that is skipped.
void start_open_loop(boost::asio::io_context& context, const boost::asio::ip::tcp::endpoint& target,
                     const request_texts& requests, double rate, std::size_t max_in_flight, recorder& results);

}  // namespace loadgen
