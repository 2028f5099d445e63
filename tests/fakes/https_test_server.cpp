#include "fakes/https_test_server.hpp"

#include <boost/beast/http.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace mailbroker::testing {
namespace {

namespace http = beast::http;
using asio::redirect_error;

// ---- certificates ------------------------------------------------------------------

struct pkey_free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct x509_free {
  void operator()(X509* p) const { X509_free(p); }
};
struct bio_free {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct pkey_ctx_free {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test PKI: ") + what + " failed");
}

pkey_ptr make_key() {
  std::unique_ptr<EVP_PKEY_CTX, pkey_ctx_free> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_EC, nullptr));
  check(ctx != nullptr, "EVP_PKEY_CTX_new_id");
  check(EVP_PKEY_keygen_init(ctx.get()) == 1, "EVP_PKEY_keygen_init");
  check(EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx.get(), NID_X9_62_prime256v1) == 1, "set curve");
  EVP_PKEY* key = nullptr;
  check(EVP_PKEY_keygen(ctx.get(), &key) == 1, "EVP_PKEY_keygen");
  return pkey_ptr(key);
}

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx{};
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  check(ext != nullptr, value);
  const int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  check(ok == 1, "X509_add_ext");
}

// A CA when `issuer` is null (self-signed), else a TLS server leaf with `san`.
x509_ptr make_cert(EVP_PKEY* key, const std::string& common_name, X509* issuer, EVP_PKEY* issuer_key,
                   const char* san) {
  static long serial = 1;
  x509_ptr cert(X509_new());
  check(cert != nullptr, "X509_new");
  X509* x = cert.get();
  check(X509_set_version(x, 2) == 1, "X509_set_version");
  check(ASN1_INTEGER_set(X509_get_serialNumber(x), serial++) == 1, "serial");
  check(X509_gmtime_adj(X509_getm_notBefore(x), -3600) != nullptr, "notBefore");
  check(X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600) != nullptr, "notAfter");
  check(X509_set_pubkey(x, key) == 1, "X509_set_pubkey");
  X509_NAME* name = X509_get_subject_name(x);
  check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0) == 1,
        "subject");
  X509* signer = issuer ? issuer : x;
  check(X509_set_issuer_name(x, X509_get_subject_name(signer)) == 1, "issuer");
  add_extension(x, signer, NID_subject_key_identifier, "hash");
  add_extension(x, signer, NID_authority_key_identifier, "keyid:always");
  if (!issuer) {
    add_extension(x, signer, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(x, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_extension(x, signer, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(x, signer, NID_key_usage, "critical,digitalSignature");
    add_extension(x, signer, NID_ext_key_usage, "serverAuth");
    add_extension(x, signer, NID_subject_alt_name, san);
  }
  check(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0, "X509_sign");
  return cert;
}

std::string bio_text(BIO* bio) {
  std::string out(BIO_ctrl_pending(bio), '\0');
  check(BIO_read(bio, out.data(), static_cast<int>(out.size())) == static_cast<int>(out.size()), "BIO_read");
  return out;
}

std::string cert_pem(X509* cert) {
  std::unique_ptr<BIO, bio_free> bio(BIO_new(BIO_s_mem()));
  check(bio && PEM_write_bio_X509(bio.get(), cert) == 1, "PEM_write_bio_X509");
  return bio_text(bio.get());
}

std::string key_pem(EVP_PKEY* key) {
  std::unique_ptr<BIO, bio_free> bio(BIO_new(BIO_s_mem()));
  check(bio && PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
        "PEM_write_bio_PrivateKey");
  return bio_text(bio.get());
}

// Owns the temp directory of the CA files; removes it at static destruction.
struct pki_holder {
  test_pki pki;
  std::filesystem::path dir;

  pki_holder() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mailbroker-test-pki-XXXXXX").string();
    check(mkdtemp(tmpl.data()) != nullptr, "mkdtemp");
    dir = tmpl;

    auto write = [&](const std::string& file, const std::string& text) {
      const auto path = dir / file;
      std::ofstream out(path, std::ios::binary);
      out << text;
      check(static_cast<bool>(out), "writing a PEM file");
      return path.string();
    };

    auto ca_key = make_key();
    auto ca = make_cert(ca_key.get(), "mailbroker test CA", nullptr, nullptr, nullptr);
    auto other_key = make_key();
    auto other = make_cert(other_key.get(), "unrelated test CA", nullptr, nullptr, nullptr);
    auto leaf_key = make_key();
    auto leaf = make_cert(leaf_key.get(), "localhost", ca.get(), ca_key.get(), "DNS:localhost,IP:127.0.0.1");
    auto ip_key = make_key();
    auto ip = make_cert(ip_key.get(), "127.0.0.1", ca.get(), ca_key.get(), "IP:127.0.0.1");
    auto names_key = make_key();
    auto names = make_cert(names_key.get(), "example.test", ca.get(), ca_key.get(),
                           "DNS:example.test,DNS:autodiscover.example.test,DNS:mail.example.test,"
                           "DNS:other.test,DNS:autodiscover.other.test,DNS:mail.other.test");

    pki.ca_file = write("ca.pem", cert_pem(ca.get()));
    pki.other_ca_file = write("other-ca.pem", cert_pem(other.get()));
    pki.server_cert_pem = cert_pem(leaf.get());
    pki.server_key_pem = key_pem(leaf_key.get());
    pki.ip_only_cert_pem = cert_pem(ip.get());
    pki.ip_only_key_pem = key_pem(ip_key.get());
    pki.names_cert_pem = cert_pem(names.get());
    pki.names_key_pem = key_pem(names_key.get());
  }
  ~pki_holder() {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
};

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

const test_pki& test_pki::get() {
  static const pki_holder holder;
  return holder.pki;
}

// ---- canned exchanges --------------------------------------------------------------

canned_exchange canned_exchange::respond(int status, std::string content_type, std::string body,
                                         std::string extra_headers) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " Canned\r\n";
  if (!content_type.empty()) out += "Content-Type: " + content_type + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n";
  out += extra_headers + "\r\n" + body;
  return {std::move(out), true};
}

canned_exchange canned_exchange::raw(std::string bytes) { return {std::move(bytes), true}; }

canned_exchange canned_exchange::silent() { return {{}, false}; }

std::string received_request::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string{} : it->second;
}

// ---- server ------------------------------------------------------------------------

https_test_server::https_test_server(std::vector<canned_exchange> exchanges, options opts)
    : exchanges_(std::move(exchanges)),
      options_(opts),
      acceptor_(io_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
  port_ = acceptor_.local_endpoint().port();
  if (options_.tls) {
    const auto& pki = test_pki::get();
    const bool ip_only = options_.cert == certificate::ip_only;
    const bool names = options_.cert == certificate::example_names;
    const std::string& cert = ip_only ? pki.ip_only_cert_pem : names ? pki.names_cert_pem : pki.server_cert_pem;
    const std::string& key = ip_only ? pki.ip_only_key_pem : names ? pki.names_key_pem : pki.server_key_pem;
    tls_.use_certificate_chain(asio::buffer(cert));
    tls_.use_private_key(asio::buffer(key), asio::ssl::context::pem);
  }
  asio::co_spawn(io_, serve(), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

https_test_server::~https_test_server() {
  // Whatever is pending (an accept nobody will satisfy, a silent exchange) is abandoned;
  // the io_context destroys the coroutine frame.
  io_.stop();
  thread_.join();
}

std::vector<received_request> https_test_server::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

int https_test_server::connections() const {
  std::lock_guard lock(mutex_);
  return connections_;
}

awaitable<void> https_test_server::serve() {
  for (const auto& exchange : exchanges_) {
    error_code ec;
    asio::ip::tcp::socket socket(io_);
    co_await acceptor_.async_accept(socket, redirect_error(use_awaitable, ec));
    if (ec) co_return;
    {
      std::lock_guard lock(mutex_);
      ++connections_;
    }
    if (!options_.tls) {
      co_await serve_one(socket, exchange, {});
      continue;
    }
    asio::ssl::stream<asio::ip::tcp::socket> stream(std::move(socket), tls_);
    co_await stream.async_handshake(asio::ssl::stream_base::server, redirect_error(use_awaitable, ec));
    if (ec) continue;  // e.g. the client refused our certificate
    const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
    // Named, not inline: g++ 12 mishandles conditional-expression temporaries in co_await.
    const std::string server_name = sni != nullptr ? sni : "";
    co_await serve_one(stream, exchange, server_name);
  }
}

template <class Stream>
awaitable<void> https_test_server::serve_one(Stream& stream, const canned_exchange& exchange, std::string sni) {
  error_code ec;
  beast::flat_buffer buffer;
  http::request_parser<http::string_body> parser;
  co_await http::async_read(stream, buffer, parser, redirect_error(use_awaitable, ec));
  if (ec) co_return;
  const auto& message = parser.get();
  received_request request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  for (const auto& field : message) {
    request.headers[lower(std::string(field.name_string()))] = std::string(field.value());
  }
  request.body = message.body();
  request.sni = std::move(sni);
  {
    std::lock_guard lock(mutex_);
    requests_.push_back(std::move(request));
  }

  if (exchange.answer) {
    co_await asio::async_write(stream, asio::buffer(exchange.response), redirect_error(use_awaitable, ec));
    // A FIN rather than a close: closing with unread input would send a RST, which can
    // destroy the response before the client reads it.
    error_code ignored;
    beast::get_lowest_layer(stream).shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  }
  // Until the client goes away (it closes after the response, or on its timeout).
  char byte;
  while (!ec) {
    co_await beast::get_lowest_layer(stream).async_read_some(asio::buffer(&byte, 1),
                                                            redirect_error(use_awaitable, ec));
  }
}

}  // namespace mailbroker::testing
