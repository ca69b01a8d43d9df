#include "kafka_producer.h"

#include <spdlog/spdlog.h>

namespace chorus {

Result<std::unique_ptr<KafkaProducer>> KafkaProducer::Open(const KafkaProperties& properties) {
  KafkaProperties defaults = {
      {"enable.idempotence", "true"},  {"linger.ms", "10"},
      {"batch.num.messages", "10000"}, {"queue.buffering.max.kbytes", "262144"},
      {"compression.type", "lz4"},
  };
  auto conf = MakeKafkaConf(defaults, properties);
  if (!conf.ok()) return conf.status();
  std::unique_ptr<KafkaProducer> p(new KafkaProducer());
  rd_kafka_conf_set_opaque(conf.value().get(), p.get());
  rd_kafka_conf_set_dr_msg_cb(conf.value().get(), &KafkaProducer::DeliveryCb);
  char err[512];
  p->rk_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.value().get(), err, sizeof err));
  if (!p->rk_) return Status::Error(std::string("kafka producer: ") + err);
  conf.value().release();  // owned by the handle once rd_kafka_new succeeds
  return p;
}

KafkaProducer::~KafkaProducer() {
  if (rk_) rd_kafka_flush(rk_.get(), 5000);
}

void KafkaProducer::Produce(const std::string& topic, int32_t partition,
                            std::span<const uint8_t> key, std::span<const uint8_t> value,
                            std::optional<int64_t> timestamp_ms, std::span<const Header> headers) {
  rd_kafka_headers_t* hdrs = nullptr;
  if (!headers.empty()) {
    hdrs = rd_kafka_headers_new(headers.size());
    for (const auto& [name, v] : headers) {
      rd_kafka_header_add(hdrs, name.data(), static_cast<ssize_t>(name.size()), v.data(),
                          static_cast<ssize_t>(v.size()));
    }
  }
  for (;;) {
    rd_kafka_resp_err_t e = rd_kafka_producev(
        rk_.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_KEY(const_cast<uint8_t*>(key.data()), key.size()),
        RD_KAFKA_V_VALUE(const_cast<uint8_t*>(value.data()), value.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP(timestamp_ms.value_or(0)),
        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return;  // headers now belong to librdkafka
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(rk_.get(), 50);
      continue;
    }
    if (hdrs != nullptr) rd_kafka_headers_destroy(hdrs);
    failures_.fetch_add(1);
    spdlog::error("kafka produce to {}: {}", topic, rd_kafka_err2str(e));
    return;
  }
}

Status KafkaProducer::Flush(std::chrono::milliseconds timeout) {
  rd_kafka_resp_err_t e = rd_kafka_flush(rk_.get(), static_cast<int>(timeout.count()));
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::Error(std::string("kafka flush: ") + rd_kafka_err2str(e));
  }
  if (uint64_t failed = failures_.exchange(0); failed > 0) {
    return Status::Error(std::to_string(failed) + " records not delivered");
  }
  return Status::Ok();
}

void KafkaProducer::DeliveryCb(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    static_cast<KafkaProducer*>(opaque)->failures_.fetch_add(1);
    spdlog::error("kafka delivery to {}: {}", rd_kafka_topic_name(m->rkt),
                  rd_kafka_err2str(m->err));
  }
}

}  // namespace chorus
