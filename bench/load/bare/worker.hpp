// The worker of bench-load-bare: accepts on an inherited listening socket
// with Boost.Asio and responds to every request with responses built once.
#pragma once

#include <boost/asio/ip/tcp.hpp>

namespace bare {

// Serves on `listen_fd` until the process is killed, or until accept()
// fails with an error other than a lack of descriptors or memory. Throws
// boost::system::system_error when the socket cannot be adopted.
void serve(unsigned slot, const boost::asio::ip::tcp& protocol, int listen_fd);

}  // namespace bare
