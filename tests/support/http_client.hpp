// A small blocking HTTP/1.1 client for loopback tests, on Boost.Beast.
// Every call has a timeout. Failures and timeouts throw
// boost::system::system_error, whose message names the operation and the
// server.
#pragma once

#include "poll.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <sys/types.h>

#include <chrono>
#include <string>

namespace band::test {

using tcp = boost::asio::ip::tcp;
using http_response = boost::beast::http::response<boost::beast::http::string_body>;

// One connection, kept open across requests (HTTP/1.1 keep-alive).
class http_connection {
 public:
  // Connects to `server`. `timeout` bounds each later call on its own.
  explicit http_connection(const tcp::endpoint& server, std::chrono::milliseconds timeout = default_timeout);

  // Sends a GET request without reading the response, for requests that
  // never get one (/hang, /crash).
  void send_get(const std::string& target);
  http_response read_response();
  http_response get(const std::string& target);

 private:
  template <class Initiate>
  void complete(const std::string& operation, Initiate&& initiate);

  tcp::endpoint server_;
  std::chrono::milliseconds timeout_;
  boost::asio::io_context context_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
};

// GET on a new connection, closed afterwards.
http_response http_get(const tcp::endpoint& server, const std::string& target,
                       std::chrono::milliseconds timeout = default_timeout);

// The X-Worker-Pid header as a number, or 0 when it is missing or invalid.
pid_t worker_pid_of(const http_response& response);

}  // namespace band::test
