#include "chorus/pipeline/embedded_kafka.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

namespace chorus {

Result<std::unique_ptr<EmbeddedKafka>> EmbeddedKafka::Start(int brokers) {
  std::unique_ptr<EmbeddedKafka> k(new EmbeddedKafka());
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The handle only hosts the cluster; it never connects anywhere.
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  k->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (k->rk_ == nullptr) return Status::Error(std::string("embedded kafka: ") + err);
  k->cluster_ = rd_kafka_mock_cluster_new(k->rk_, brokers);
  if (k->cluster_ == nullptr) return Status::Error("embedded kafka: cannot start mock cluster");
  k->bootstraps_ = rd_kafka_mock_cluster_bootstraps(k->cluster_);
  return k;
}

EmbeddedKafka::~EmbeddedKafka() {
  if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
  if (rk_ != nullptr) rd_kafka_destroy(rk_);
}

Status EmbeddedKafka::CreateTopic(const std::string& topic, int partitions, int replication) {
  rd_kafka_resp_err_t e =
      rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, replication);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::Error("embedded kafka: create topic " + topic + ": " + rd_kafka_err2str(e));
  }
  return Status::Ok();
}

}  // namespace chorus
