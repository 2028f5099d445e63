#include "net/connection_trace.hpp"

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <ctime>

#include "common/text.hpp"

namespace mailbroker::net {
namespace {

std::string name_text(const X509_NAME* name) {
  if (name == nullptr) return {};
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return {};
  // RFC 2253 with bytes above 0x7f escaped: always printable ASCII.
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string text = size > 0 ? std::string(data, static_cast<std::size_t>(size)) : std::string();
  BIO_free(bio);
  return clean_text(text, max_trace_text);
}

std::string date_text(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return {};
  char buf[16] = {};
  if (std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm) == 0) return {};
  return buf;
}

}  // namespace

void read_tls_peer(SSL* ssl, tls_peer_info& out) {
  if (ssl == nullptr) return;
  if (SSL_is_init_finished(ssl)) out.version = SSL_get_version(ssl);
  // The verified peer certificate; after a failed verification only the chain the
  // server sent is kept (its first element is the leaf on a client).
  X509* leaf = SSL_get0_peer_certificate(ssl);
  if (leaf == nullptr) {
    STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
    if (chain != nullptr && sk_X509_num(chain) > 0) leaf = sk_X509_value(chain, 0);
  }
  if (leaf == nullptr) return;
  out.subject = name_text(X509_get_subject_name(leaf));
  out.issuer = name_text(X509_get_issuer_name(leaf));
  out.not_after = date_text(X509_get0_notAfter(leaf));
}

}  // namespace mailbroker::net
